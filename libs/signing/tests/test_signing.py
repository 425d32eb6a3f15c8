import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing import (
    VerificationFailure,
    WebhookVerificationError,
    build_headers,
    decode_secret,
    generate_secret,
    sign,
    sign_with_all,
    verify,
)

# The published test vector of the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"n" * 32).decode()


def vector_headers() -> dict[str, str]:
    return {
        "webhook-id": VECTOR_MSG_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def reason_of(
    headers: dict[str, str],
    body: bytes | str = VECTOR_PAYLOAD,
    *,
    secrets: str | list[str] = VECTOR_SECRET,
    now: int = VECTOR_TIMESTAMP,
) -> VerificationFailure:
    with pytest.raises(WebhookVerificationError) as raised:
        verify(secrets, headers, body, now=now)
    return raised.value.reason


# The published test vector


def test_sign_matches_published_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == VECTOR_SIGNATURE


def test_verify_accepts_published_test_vector() -> None:
    verify(VECTOR_SECRET, vector_headers(), VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


def test_secret_without_prefix_is_the_same_base64_key() -> None:
    unprefixed = VECTOR_SECRET.removeprefix("whsec_")
    assert sign(unprefixed, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == VECTOR_SIGNATURE
    verify(unprefixed, vector_headers(), VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


def test_bytes_secret_is_the_raw_key() -> None:
    key = base64.b64decode(VECTOR_SECRET.removeprefix("whsec_"))
    assert sign(key, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == VECTOR_SIGNATURE


def test_bytes_body_signs_like_its_utf8_text() -> None:
    signature = sign(VECTOR_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD.encode())
    assert signature == VECTOR_SIGNATURE


def test_datetime_timestamps_sign_like_unix_seconds() -> None:
    aware = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC)
    naive = aware.replace(tzinfo=None)
    elsewhere = aware.astimezone(timezone(timedelta(hours=5, minutes=30)))
    with_fraction = aware + timedelta(milliseconds=999)
    for timestamp in (aware, naive, elsewhere, with_fraction):
        assert sign(VECTOR_SECRET, VECTOR_MSG_ID, timestamp, VECTOR_PAYLOAD) == VECTOR_SIGNATURE


def test_verify_accepts_datetime_now() -> None:
    now = datetime.fromtimestamp(VECTOR_TIMESTAMP + 10, tz=UTC)
    verify(VECTOR_SECRET, vector_headers(), VECTOR_PAYLOAD, now=now)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.upper(): value for name, value in vector_headers().items()}
    headers["Webhook-Id"] = headers.pop("WEBHOOK-ID")
    verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


def test_build_headers_round_trips_through_verify() -> None:
    headers = build_headers(VECTOR_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)
    assert headers == vector_headers()
    verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


def test_verify_without_now_uses_the_current_time() -> None:
    timestamp = int(datetime.now(tz=UTC).timestamp())
    headers = build_headers(VECTOR_SECRET, VECTOR_MSG_ID, timestamp, b"{}")
    verify(VECTOR_SECRET, headers, b"{}")
    with pytest.raises(WebhookVerificationError) as raised:
        verify(VECTOR_SECRET, vector_headers(), VECTOR_PAYLOAD)
    assert raised.value.reason == "timestamp_too_old"


# Tampering


def test_tampered_body_is_rejected() -> None:
    assert reason_of(vector_headers(), '{"test": 2432232315}') == "no_matching_signature"


def test_tampered_msg_id_is_rejected() -> None:
    headers = vector_headers() | {"webhook-id": "msg_other"}
    assert reason_of(headers) == "no_matching_signature"


def test_tampered_timestamp_is_rejected() -> None:
    headers = vector_headers() | {"webhook-timestamp": str(VECTOR_TIMESTAMP + 1)}
    assert reason_of(headers) == "no_matching_signature"


def test_timestamp_with_leading_zero_is_not_the_signed_timestamp() -> None:
    headers = vector_headers() | {"webhook-timestamp": f"0{VECTOR_TIMESTAMP}"}
    assert reason_of(headers) == "no_matching_signature"


def test_tampered_signature_is_rejected() -> None:
    headers = vector_headers() | {
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
    }
    assert reason_of(headers) == "no_matching_signature"


def test_wrong_secret_is_rejected() -> None:
    assert reason_of(vector_headers(), secrets=NEW_SECRET) == "no_matching_signature"


# Replay: the tolerance window in both directions


def test_timestamp_older_than_tolerance_is_rejected() -> None:
    assert reason_of(vector_headers(), now=VECTOR_TIMESTAMP + 301) == "timestamp_too_old"


def test_timestamp_further_ahead_than_tolerance_is_rejected() -> None:
    assert reason_of(vector_headers(), now=VECTOR_TIMESTAMP - 301) == "timestamp_too_new"


@pytest.mark.parametrize("drift", [-300, -1, 0, 1, 300])
def test_timestamp_within_tolerance_including_the_boundary_is_accepted(drift: int) -> None:
    verify(VECTOR_SECRET, vector_headers(), VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP + drift)


def test_custom_tolerance_is_respected() -> None:
    headers = vector_headers()
    verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP + 30, tolerance=30)
    with pytest.raises(WebhookVerificationError) as raised:
        verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP + 31, tolerance=30)
    assert raised.value.reason == "timestamp_too_old"
    with pytest.raises(WebhookVerificationError) as raised:
        verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP - 31, tolerance=30)
    assert raised.value.reason == "timestamp_too_new"


def test_stale_timestamp_is_rejected_even_with_a_valid_signature() -> None:
    stale = VECTOR_TIMESTAMP - 3600
    headers = build_headers(VECTOR_SECRET, VECTOR_MSG_ID, stale, VECTOR_PAYLOAD)
    assert reason_of(headers) == "timestamp_too_old"


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        verify(VECTOR_SECRET, vector_headers(), VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP, tolerance=-1)


# Key rotation


def test_receiver_with_old_and_new_secret_accepts_either_signature() -> None:
    for sender_secret in (OLD_SECRET, NEW_SECRET):
        headers = build_headers(sender_secret, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)
        verify([OLD_SECRET, NEW_SECRET], headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


def test_sender_signing_with_both_secrets_satisfies_either_receiver() -> None:
    headers = build_headers(
        [OLD_SECRET, NEW_SECRET], VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD
    )
    assert len(headers["webhook-signature"].split(" ")) == 2
    for receiver_secret in (OLD_SECRET, NEW_SECRET):
        verify(receiver_secret, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)
    assert reason_of(headers, secrets=VECTOR_SECRET) == "no_matching_signature"


def test_sign_with_all_joins_one_signature_per_secret() -> None:
    joined = sign_with_all(
        [OLD_SECRET, VECTOR_SECRET], VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD
    )
    old = sign(OLD_SECRET, VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)
    assert joined == f"{old} {VECTOR_SIGNATURE}"


def test_sign_with_all_requires_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one"):
        sign_with_all([], VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD)


def test_verify_requires_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one"):
        verify([], vector_headers(), VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


def test_matching_signature_among_others_is_accepted() -> None:
    other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    header = " ".join(
        [other, "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", VECTOR_SIGNATURE, other]
    )
    headers = vector_headers() | {"webhook-signature": header}
    verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


def test_malformed_entries_beside_a_valid_signature_are_skipped() -> None:
    header = f"garbage v1,not-base64!! v1,AAAA v1a,c2lnbmF0dXJl {VECTOR_SIGNATURE}"
    headers = vector_headers() | {"webhook-signature": header}
    verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)


# Malformed and missing headers


class MultiHeaders(dict[str, str]):
    """A mapping whose ``items()`` yields every header sent, repeats included, as Starlette's
    ``Headers`` does (indexing gives the first value)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(reversed(pairs))
        self.pairs = pairs

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(self.pairs)


def test_verify_returns_the_webhook_id() -> None:
    assert (
        verify(VECTOR_SECRET, vector_headers(), VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)
        == VECTOR_MSG_ID
    )


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
@pytest.mark.parametrize("spelling", [str.lower, str.title])
def test_a_header_sent_twice_is_rejected(name: str, spelling: Any) -> None:
    # Even an identical copy: the verifier cannot know which copy a caller reads afterwards.
    pairs = [*vector_headers().items(), (spelling(name), vector_headers()[name])]
    with pytest.raises(WebhookVerificationError, match=name) as raised:
        verify(VECTOR_SECRET, MultiHeaders(pairs), VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)
    assert raised.value.reason == VerificationFailure.DUPLICATE_HEADER
    assert raised.value.header == name


def test_a_second_webhook_id_cannot_ride_along_a_valid_signature() -> None:
    pairs = [*vector_headers().items(), ("webhook-id", "msg_chosen_by_the_sender")]
    assert reason_of(MultiHeaders(pairs)) == VerificationFailure.DUPLICATE_HEADER


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(name: str) -> None:
    headers = vector_headers()
    del headers[name]
    with pytest.raises(WebhookVerificationError, match=name) as raised:
        verify(VECTOR_SECRET, headers, VECTOR_PAYLOAD, now=VECTOR_TIMESTAMP)
    assert raised.value.reason == VerificationFailure.MISSING_HEADER


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_empty_header_counts_as_missing(name: str) -> None:
    assert reason_of(vector_headers() | {name: ""}) == "missing_header"


@pytest.mark.parametrize(
    "timestamp",
    ["hello", "1614265330.0", "1614265330.5", "-1614265330", "+1614265330", " 1614265330",
     "1e9", "0x601f", "١٦١٤٢٦٥٣٣٠", "9" * 21],
)  # fmt: skip
def test_non_integer_timestamp_is_rejected(timestamp: str) -> None:
    assert reason_of(vector_headers() | {"webhook-timestamp": timestamp}) == "invalid_timestamp"


@pytest.mark.parametrize(
    "signature",
    [
        " ",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1",
        "v1,",
        ",g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1,not base64!!",
        "v1,AAAA",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
        "v1;g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ],
)
def test_malformed_signature_header_is_rejected(signature: str) -> None:
    assert reason_of(vector_headers() | {"webhook-signature": signature}) == "malformed_signature"


def test_only_other_signature_versions_is_no_match_not_malformed() -> None:
    headers = vector_headers() | {"webhook-signature": "v1a,c2lnbmF0dXJl v2,abc"}
    assert reason_of(headers) == "no_matching_signature"


def test_error_carries_reason_and_human_message() -> None:
    error = WebhookVerificationError(VerificationFailure.TIMESTAMP_TOO_NEW, "too far ahead")
    assert isinstance(error, Exception)
    assert error.reason == "timestamp_too_new"
    assert str(error) == "too far ahead"
    assert "timestamp_too_new" in repr(error)


# Secrets


def test_invalid_base64_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        decode_secret("whsec_not base64!")


@pytest.mark.parametrize("secret", ["whsec_", "", b""])
def test_empty_secret_is_refused(secret: str | bytes) -> None:
    with pytest.raises(ValueError, match="empty"):
        decode_secret(secret)


def test_unpadded_secret_is_accepted() -> None:
    assert decode_secret("whsec_YWJj") == b"abc"
    assert decode_secret("whsec_YWI") == b"ab"


def test_generate_secret_has_prefix_and_enough_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(decode_secret(secret)) == 32
    assert len(decode_secret(generate_secret(24))) == 24
    assert len(decode_secret(generate_secret(64))) == 64


def test_generate_secret_refuses_short_keys() -> None:
    with pytest.raises(ValueError, match="24"):
        generate_secret(23)


def test_generated_secrets_are_unique() -> None:
    assert len({generate_secret() for _ in range(200)}) == 200


def test_generated_secret_round_trips_and_rejects_other_secrets() -> None:
    secret = generate_secret()
    headers = build_headers(secret, VECTOR_MSG_ID, VECTOR_TIMESTAMP, b"payload")
    verify(secret, headers, b"payload", now=VECTOR_TIMESTAMP)
    verify(secret.removeprefix("whsec_"), headers, b"payload", now=VECTOR_TIMESTAMP)
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, b"payload", now=VECTOR_TIMESTAMP)


# Properties

text_strategy = st.characters(codec="utf-8")
msg_ids = st.text(text_strategy, min_size=1, max_size=64)
bodies = st.binary(max_size=512)
timestamps = st.integers(min_value=0, max_value=2**40)


@given(msg_id=msg_ids, timestamp=timestamps, body=bodies)
def test_signed_message_verifies(msg_id: str, timestamp: int, body: bytes) -> None:
    headers = build_headers(VECTOR_SECRET, msg_id, timestamp, body)
    verify(VECTOR_SECRET, headers, body, now=timestamp)


@given(msg_id=msg_ids, timestamp=timestamps, body=bodies, data=st.data())
def test_changing_any_character_of_the_id_fails(
    msg_id: str, timestamp: int, body: bytes, data: st.DataObject
) -> None:
    headers = build_headers(VECTOR_SECRET, msg_id, timestamp, body)
    index = data.draw(st.integers(0, len(msg_id) - 1), label="index")
    replacement = data.draw(text_strategy.filter(lambda char: char != msg_id[index]))
    headers["webhook-id"] = msg_id[:index] + replacement + msg_id[index + 1 :]
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, headers, body, now=timestamp)


@given(msg_id=msg_ids, timestamp=timestamps, body=bodies, data=st.data())
def test_changing_any_character_of_the_timestamp_fails(
    msg_id: str, timestamp: int, body: bytes, data: st.DataObject
) -> None:
    headers = build_headers(VECTOR_SECRET, msg_id, timestamp, body)
    text = headers["webhook-timestamp"]
    index = data.draw(st.integers(0, len(text) - 1), label="index")
    replacement = data.draw(
        st.one_of(st.sampled_from("0123456789"), text_strategy).filter(
            lambda char: char != text[index]
        )
    )
    headers["webhook-timestamp"] = text[:index] + replacement + text[index + 1 :]
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, headers, body, now=timestamp, tolerance=2**41)


@given(msg_id=msg_ids, timestamp=timestamps, body=bodies.filter(bool), data=st.data())
def test_changing_any_byte_of_the_body_fails(
    msg_id: str, timestamp: int, body: bytes, data: st.DataObject
) -> None:
    headers = build_headers(VECTOR_SECRET, msg_id, timestamp, body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    replacement = data.draw(st.integers(0, 255).filter(lambda byte: byte != body[index]))
    tampered = body[:index] + bytes([replacement]) + body[index + 1 :]
    with pytest.raises(WebhookVerificationError) as raised:
        verify(VECTOR_SECRET, headers, tampered, now=timestamp)
    assert raised.value.reason == "no_matching_signature"


@given(msg_id=msg_ids, timestamp=timestamps, body=bodies, data=st.data())
def test_changing_any_character_of_the_signature_fails(
    msg_id: str, timestamp: int, body: bytes, data: st.DataObject
) -> None:
    headers = build_headers(VECTOR_SECRET, msg_id, timestamp, body)
    signature = headers["webhook-signature"]
    index = data.draw(st.integers(0, len(signature) - 1), label="index")
    replacement = data.draw(text_strategy.filter(lambda char: char != signature[index]))
    headers["webhook-signature"] = signature[:index] + replacement + signature[index + 1 :]
    with pytest.raises(WebhookVerificationError):
        verify(VECTOR_SECRET, headers, body, now=timestamp)
