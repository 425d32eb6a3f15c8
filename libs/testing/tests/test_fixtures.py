import smtplib
from email.message import EmailMessage

import asyncpg
import boto3
import redis

from wrktalk_testing.smtp import SmtpSink


async def test_postgres_database_is_fresh_and_reachable(postgres_database: str) -> None:
    conn = await asyncpg.connect(postgres_database.replace("postgresql+asyncpg", "postgresql"))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    assert tables == 0


def test_redis_url_selects_a_claimed_empty_database(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert not redis_url.endswith("/0")
    client.set("probe", "1")
    assert client.get("probe") == b"1"
    client.close()


def test_s3_bucket_lives_on_the_moto_http_server(s3_endpoint: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.put_object(Bucket=s3_bucket, Key="a.txt", Body=b"hello")
    assert client.get_object(Bucket=s3_bucket, Key="a.txt")["Body"].read() == b"hello"
    assert s3_endpoint.startswith("http://127.0.0.1:")


def test_smtp_sink_records_messages(smtp_sink: SmtpSink) -> None:
    message = EmailMessage()
    message["From"] = "gcc@example.com"
    message["To"] = "admin@example.com"
    message["Subject"] = "New release 2.3.0"
    message.set_content("Please schedule it.")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
        client.send_message(message)
    received = smtp_sink.wait_for(lambda m: m.subject == "New release 2.3.0")
    assert len(received) == 1
    assert received[0].recipients == ["admin@example.com"]
    assert "Please schedule it." in received[0].text
