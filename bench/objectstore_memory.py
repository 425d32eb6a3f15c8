"""Peak memory and throughput of ``S3ObjectStore`` moving one large object up and down.

moto's S3 server runs in a child process, since it keeps every object in memory and that must
not count towards the client measured here. Through one ``S3ObjectStore`` the script then:

1. ``put_stream`` from a generator of pseudo-random chunks (the object never exists whole),
2. ``put_file`` from a temporary file holding the same bytes,
3. ``get_to_file`` into a temporary file, checking the SHA256,
4. ``iter_chunks``, hashing the chunks as they arrive.

Each transfer's peak resident set size comes from the kernel's high-water mark (``VmHWM``,
reset before each transfer through ``/proc/self/clear_refs``), and from a thread that samples
RSS every 10 ms as a cross-check and where the kernel figure is unavailable. Growth is measured
against the RSS after the client is open and has made one small round trip, so it is what the
transfers cost, not what importing botocore costs. The exit status is 1 when the peak growth
reaches the target.

    uv run python bench/objectstore_memory.py [--size-mb 256] [--part-size-mb 8]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from objectstore import S3ObjectStore
from wrktalk_testing.network import free_port

MIB = 1024 * 1024
TARGET_GROWTH_MIB = 32
CHUNK_SIZE = MIB
BUCKET = "bench-objectstore"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class RssSampler:
    """Samples this process's RSS in a daemon thread and keeps the peak since the last reset."""

    def __init__(self, interval: float = 0.01) -> None:
        """Prepare sampling every ``interval`` seconds; call :meth:`start`."""
        self._process = psutil.Process()
        self._interval = interval
        self._lock = threading.Lock()
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def current(self) -> int:
        """The RSS right now, in bytes."""
        return int(self._process.memory_info().rss)

    def start(self) -> None:
        """Start sampling."""
        self.reset()
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        """Forget the peak so far; the new peak starts at the current RSS."""
        with self._lock:
            self._peak = self.current()

    @property
    def peak(self) -> int:
        """The highest RSS sampled since the last reset, in bytes."""
        with self._lock:
            return max(self._peak, self.current())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            rss = self.current()
            with self._lock:
                self._peak = max(self._peak, rss)


def reset_high_water_mark() -> bool:
    """Reset the kernel's peak RSS of this process (Linux 4.0+); False where impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def high_water_mark() -> int:
    """The kernel's peak RSS of this process since the last reset, in bytes."""
    status = Path("/proc/self/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    if found is None:
        raise RuntimeError("no VmHWM in /proc/self/status")
    return int(found.group(1)) * 1024


@dataclass
class Phase:
    """One measured transfer: duration and peak RSS growth (kernel figure when available)."""

    name: str
    seconds: float
    sampled_growth: int
    kernel_growth: int | None

    @property
    def peak_growth(self) -> int:
        """The larger of the two peak figures."""
        return max(self.sampled_growth, self.kernel_growth or 0)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in a child process on a free loopback port; yields its URL."""
    port = free_port()
    environment = {**os.environ, **CREDENTIALS}
    child = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(port, child)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_until_serving(port: int, child: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until the server accepts connections; fail when it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"moto server exited with status {child.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto server on port {port} did not answer within {timeout:.0f}s")


def generated_chunks(size: int, seed: int) -> Iterator[bytes]:
    """``size`` pseudo-random bytes in ``CHUNK_SIZE`` chunks, made one chunk at a time."""
    generator = random.Random(seed)
    remaining = size
    while remaining > 0:
        chunk = generator.randbytes(min(CHUNK_SIZE, remaining))
        remaining -= len(chunk)
        yield chunk


async def stream_of(size: int, seed: int) -> AsyncIterator[bytes]:
    """The generated chunks as an async stream, yielding to the loop between chunks."""
    for chunk in generated_chunks(size, seed):
        yield chunk
        await asyncio.sleep(0)


def write_source_file(path: Path, size: int, seed: int) -> str:
    """Write the generated bytes to ``path`` and return their SHA256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for chunk in generated_chunks(size, seed):
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


async def measure(
    name: str, sampler: RssSampler, baseline: int, action: Callable[[], Awaitable[None]]
) -> Phase:
    """Run ``action`` and return its duration and the peak RSS growth over ``baseline``."""
    gc.collect()
    has_kernel_figure = reset_high_water_mark()
    sampler.reset()
    started = time.perf_counter()
    await action()
    seconds = time.perf_counter() - started
    return Phase(
        name=name,
        seconds=seconds,
        sampled_growth=sampler.peak - baseline,
        kernel_growth=high_water_mark() - baseline if has_kernel_figure else None,
    )


async def run(endpoint_url: str, size: int, part_size: int, workdir: Path) -> list[Phase]:
    """Open the store, warm it up, then measure the four transfers of ``size`` bytes."""
    seed = 20260601
    source = workdir / "source.bin"
    expected_sha256 = await asyncio.to_thread(write_source_file, source, size, seed)
    sampler = RssSampler()
    async with S3ObjectStore(
        BUCKET,
        endpoint_url=endpoint_url,
        region="us-east-1",
        multipart_threshold=part_size,
        part_size=part_size,
    ) as store:
        await store.ensure_bucket()
        await store.put_stream("warmup", stream_of(64 * 1024, seed))
        await store.get_to_file("warmup", workdir / "warmup.bin")
        async for _chunk in store.iter_chunks("warmup"):
            pass
        await store.delete("warmup")
        gc.collect()
        baseline = sampler.current()
        sampler.start()

        async def upload_stream() -> None:
            stored = await store.put_stream("bench/streamed.bin", stream_of(size, seed))
            check(stored.sha256 == expected_sha256 and stored.size == size, "put_stream digest")

        async def upload_file() -> None:
            stored = await store.put_file("bench/file.bin", source)
            check(stored.sha256 == expected_sha256 and stored.size == size, "put_file digest")

        async def download_file() -> None:
            result = await store.get_to_file("bench/streamed.bin", workdir / "download.bin")
            check(result.sha256 == expected_sha256 and result.size == size, "get_to_file digest")

        async def download_chunks() -> None:
            digest = hashlib.sha256()
            async for chunk in store.iter_chunks("bench/file.bin"):
                digest.update(chunk)
            check(digest.hexdigest() == expected_sha256, "iter_chunks digest")

        phases = [
            await measure("put_stream (generator)", sampler, baseline, upload_stream),
            await measure("put_file", sampler, baseline, upload_file),
            await measure("get_to_file", sampler, baseline, download_file),
            await measure("iter_chunks", sampler, baseline, download_chunks),
        ]
        sampler.stop()
    return phases


def check(condition: bool, what: str) -> None:
    """Stop the benchmark when a transfer delivered the wrong bytes."""
    if not condition:
        raise SystemExit(f"{what} does not match the generated bytes")


def main() -> int:
    """Parse arguments, run the benchmark, print the figures; 1 when over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256, help="object size in MiB")
    parser.add_argument("--part-size-mb", type=int, default=8, help="multipart part size in MiB")
    arguments = parser.parse_args()
    size = arguments.size_mb * MIB
    part_size = arguments.part_size_mb * MIB
    os.environ.update(CREDENTIALS)

    with tempfile.TemporaryDirectory(prefix="objectstore-bench-") as workdir, moto_server() as url:
        phases = asyncio.run(run(url, size, part_size, Path(workdir)))

    peak_growth = max(phase.peak_growth for phase in phases)
    print(f"object size: {size / MIB:.0f} MiB, part size {part_size / MIB:.0f} MiB")
    print(f"{'transfer':<24}{'MiB/s':>8}{'seconds':>9}{'peak RSS growth MiB':>22}{'(sampled)':>11}")
    for phase in phases:
        kernel = f"{phase.kernel_growth / MIB:.1f}" if phase.kernel_growth is not None else "n/a"
        print(
            f"{phase.name:<24}{size / MIB / phase.seconds:8.1f}{phase.seconds:9.2f}"
            f"{kernel:>22}{phase.sampled_growth / MIB:11.1f}"
        )
    under = peak_growth < TARGET_GROWTH_MIB * MIB
    verdict = "under the" if under else "NOT under the"
    print(f"peak RSS growth: {peak_growth / MIB:.1f} MiB, {verdict} {TARGET_GROWTH_MIB} MiB target")
    return 0 if under else 1


if __name__ == "__main__":
    sys.exit(main())
