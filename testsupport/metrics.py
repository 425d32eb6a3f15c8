"""Reading a served ``/metrics`` page in tests: the value of one sample, or zero."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def sample_values(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition text, keyed by its name and its labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def scrape(client: httpx.AsyncClient, path: str = "/metrics") -> Scrape:
    """GET ``path`` and parse it."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(sample_values(response.text))


class Scrape:
    """The samples of one scrape."""

    def __init__(self, samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> None:
        self.samples = samples

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 for a sample not (yet) exposed."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def moved(self, before: Scrape, name: str, **labels: str) -> float:
        """How much the sample changed since ``before``."""
        return self.value(name, **labels) - before.value(name, **labels)
