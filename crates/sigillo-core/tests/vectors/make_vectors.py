#!/usr/bin/env python3
"""Test vectors for sigillo's device-binding protocol, made by an independent implementation.

Issues 3 and 4: everything here is re-implemented from the protocol's rules as the doc
comments of `crates/sigillo-core/src/device/*.rs` and docs/PROTOCOL.md state them, in Python,
with the standard library and the `cryptography` package (OpenSSL) only; nothing calls the
Rust code. Issue 4 adds the offline keys, the login OTP (TOTP, RFC 6238), the transaction QR
and its OCRA code (RFC 6287, computed here with `hmac` and `hashlib`), the approval with an
answer (number matching) and the canonical bytes of a pushed login. The Rust test
`crates/sigillo-core/tests/vectors.rs` then reproduces every case with the public API of
`sigillo_core::device`, so the two implementations check each other.

    python3 crates/sigillo-core/tests/vectors/make_vectors.py          # (re)writes device.json
    python3 crates/sigillo-core/tests/vectors/make_vectors.py --check  # exits 1 if it differs

Every input is a constant below, and ECDSA signing is deterministic (RFC 6979, which needs
OpenSSL >= 3.2 behind `cryptography`), so the output is byte-for-byte stable.

Requires: python3 -m pip install cryptography
"""

from __future__ import annotations

import argparse
import base64
import difflib
import hashlib
import hmac
import json
import re
import sys
from pathlib import Path

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError:  # pragma: no cover - environment problem, not a vector problem
    sys.exit("make_vectors.py needs the `cryptography` package: python3 -m pip install cryptography")

OUTPUT = Path(__file__).resolve().parent / "device.json"

# The order of the P-256 group: a private scalar k is valid iff 1 <= k < N.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
FACTORS = ("possession", "knowledge", "biometry")


# --- Primitives, written from the protocol's rules ------------------------------------------


def canon(domain: str, *fields: bytes | str | int) -> bytes:
    """Canon (canonical.rs): the domain then each field, as a 4-byte big-endian length and its
    bytes; strings are UTF-8, integers are u64 as 8 bytes big-endian."""
    out = bytearray()
    for field in (domain, *fields):
        if isinstance(field, str):
            data = field.encode("utf-8")
        elif isinstance(field, int) and not isinstance(field, bool):
            if not 0 <= field < 2**64:
                raise ValueError("u64 out of range")
            data = field.to_bytes(8, "big")
        else:
            data = bytes(field)
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def private_key(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def public_bytes(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def sign(scalar: bytes, message: bytes) -> bytes:
    """ECDSA P-256 / SHA-256, DER, with RFC 6979 nonces (so the vectors are stable)."""
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    return private_key(scalar).sign(message, algorithm)


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- keys.rs ---------------------------------------------------------------------------------

SEED_SALT = b"sigillo/p256-from-seed/v1"
MASTER_LABEL = "sigillo/master-key/v1"
KNOWLEDGE_LABEL = "sigillo/knowledge-key/v1"


def scalar_from_seed(seed: bytes, label: str) -> tuple[bytes, int]:
    """KeyPair::from_seed: HKDF-SHA-256(salt, ikm = seed, info = Canon(label).u64(counter)), 32
    bytes, for counter = 0, 1, ... until the bytes are a valid scalar. Returns (scalar, counter)."""
    counter = 0
    while True:
        candidate = hkdf_sha256(SEED_SALT, seed, canon(label, counter))
        if 1 <= int.from_bytes(candidate, "big") < P256_N:
            return candidate, counter
        counter += 1


def ecdh_x(scalar: bytes, peer_public: bytes) -> bytes:
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_public)
    return private_key(scalar).exchange(ec.ECDH(), peer)


def factor_otp_key(shared: bytes, binding: str, factor: str) -> bytes:
    return hkdf_sha256(binding.encode("utf-8"), shared, canon("sigillo/otp-key/v1", factor))


def fingerprint(possession: bytes, server: bytes) -> str:
    # v2: over the possession and server keys only. v1 covered the knowledge public key
    # too, which let a copy of the phone's storage test PINs against it offline (P1).
    digest = hashlib.sha256(canon("sigillo/fingerprint/v2", possession, server)).digest()
    value = int.from_bytes(digest[:5], "big") % 100_000_000
    digits = f"{value:08d}"
    return f"{digits[:4]} {digits[4:]}"


# --- activation.rs ---------------------------------------------------------------------------

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def code_display(code_id: bytes, secret: bytes) -> str:
    """80 payload bits as 16 Crockford characters, then the CRC zero-extended to 20 bits as 4
    more, most significant first; four groups of five joined by dashes."""
    payload = code_id + secret
    bits = (int.from_bytes(payload, "big") << 20) | crc16_xmodem(payload)
    chars = "".join(CROCKFORD[(bits >> (5 * i)) & 31] for i in reversed(range(20)))
    return "-".join(chars[i : i + 5] for i in range(0, 20, 5))


def code_parse(text: str) -> tuple[bytes, bytes] | str:
    """ActivationCode::parse: (id, secret), or the name of the CodeError."""
    values = []
    for c in text:
        if c in "- ":
            continue
        c = {"O": "0", "I": "1", "L": "1"}.get(c.upper(), c.upper()) if c.isascii() else c
        if c not in CROCKFORD:
            return "Character"
        values.append(CROCKFORD.index(c))
    if len(values) != 20:
        return "Length"
    bits = 0
    for v in values:
        bits = (bits << 5) | v
    payload = (bits >> 20).to_bytes(10, "big")
    if bits & 0xFFFFF != crc16_xmodem(payload):
        return "Checksum"
    return payload[:5], payload[5:]


def secret_digest(key: bytes, code_id: bytes, secret: bytes) -> bytes:
    return hmac_sha256(key, b"sigillo/activation-secret/v1" + code_id + secret)


def qr_message(display: str, expires_at_ms: int) -> bytes:
    return canon("sigillo/activation-qr/v1", display, expires_at_ms)


def qr_payload(display: str, expires_at_ms: int, master_scalar: bytes) -> str:
    signature = sign(master_scalar, qr_message(display, expires_at_ms))
    return f"SIGILLO1:{display}:{expires_at_ms}:{b64url(signature)}"


def strict_unb64url(text: str) -> bytes | None:
    """Unpadded base64url as `unb64` takes it: only the URL-safe alphabet, no padding, and
    unused trailing bits zero (so that every byte string has exactly one spelling)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        return None
    data = unb64url(text)
    return data if b64url(data) == text else None


def qr_verify(payload: str, master_public: bytes) -> tuple[bytes, bytes, int] | str:
    """verify_qr: exactly four ':'-separated parts (surrounding whitespace ignored), the prefix,
    a canonical decimal u64 expiry (no sign, no leading zero), an unpadded base64url
    signature; the signature first, then the code."""
    parts = payload.strip().split(":")
    if len(parts) != 4 or parts[0] != "SIGILLO1" or not re.fullmatch(r"[1-9][0-9]*", parts[2]) or int(parts[2]) >= 2**64:
        return "QrFormat"
    display, expires, signature = parts[1], int(parts[2]), strict_unb64url(parts[3])
    if signature is None:
        return "QrFormat"
    if not verify(master_public, qr_message(display, expires), signature):
        return "QrSignature"
    parsed = code_parse(display)
    if isinstance(parsed, str):
        return parsed
    return parsed[0], parsed[1], expires


# --- pin.rs ----------------------------------------------------------------------------------


def pin_pad(pin: str, salt: bytes, binding: str) -> bytes:
    assert len(pin) == 5 and pin.isascii() and pin.isdigit()
    return hkdf_sha256(salt, pin.encode("ascii"), canon("sigillo/pin-pad/v1", binding))


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def pin_trivial(pin: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:])}
    return steps in ({0}, {1}, {9})


# --- messages.rs -----------------------------------------------------------------------------


def msg_request(factor: str, binding: str, challenge: bytes, method: str, path: str, body: bytes) -> bytes:
    return canon("sigillo/request/v1", factor, binding, challenge, method, path, hashlib.sha256(body).digest())


def msg_approval(factor: str, binding: str, challenge: bytes, operation: bytes) -> bytes:
    return canon("sigillo/approval/v1", factor, binding, challenge, operation)


def msg_activation_proof(
    factor: str, code: str, device_name: str, platform: str, possession: bytes, knowledge: bytes, biometry: bytes | None
) -> bytes:
    keys = (possession, knowledge, b"" if biometry is None else biometry)
    return canon("sigillo/activation/v1", factor, code, device_name, platform, *keys)


def key_confirmation(otp_key: bytes, binding: str, factor: str) -> bytes:
    return hmac_sha256(otp_key, canon("sigillo/key-confirmation/v1", binding, factor))


def operation_encode(op: dict) -> bytes:
    fields: list[str | int] = [op["id"], op["kind"], op["expires_at_ms"], len(op["fields"])]
    for label, value in op["fields"]:
        fields += [label, value]
    return canon("sigillo/operation/v1", *fields)


def msg_approval_with_answer(factor: str, binding: str, challenge: bytes, operation: bytes, answer: str) -> bytes:
    return canon("sigillo/approval-answer/v1", factor, binding, challenge, operation, answer)


# --- matching.rs -----------------------------------------------------------------------------


def login_operation(op_id: str, expires_at_ms: int, shown: list[int], about: list[list[str]]) -> dict:
    """A pushed login: kind `login`, first the field `numbers` (the three numbers, decimal,
    separated by one space), then what the bank says about the login (channel, time, ...)."""
    assert len(shown) == 3 and len(set(shown)) == 3 and all(10 <= n <= 99 for n in shown)
    fields = [["numbers", " ".join(str(n) for n in shown)], *[list(pair) for pair in about]]
    return {"id": op_id, "kind": "login", "expires_at_ms": expires_at_ms, "fields": fields}


# --- offline.rs and the OATH codes on top of it ----------------------------------------------

LOGIN_STEP_MS = 30_000
TRANSACTION_SUITE = "OCRA-1:HOTP-SHA256-8:QH64"
QR_TX_PREFIX = "SIGILLOTX1"
QR_TX_NONCE_LEN = 16


def offline_key(possession: bytes, knowledge: bytes, binding: str, purpose: str) -> bytes:
    """HKDF-SHA-256(salt = binding id, ikm = K_possession || K_knowledge,
    info = Canon("sigillo/offline-key/v1").str(purpose)), 32 bytes."""
    assert purpose in ("login", "transaction") and len(possession) == len(knowledge) == 32
    return hkdf_sha256(binding.encode("utf-8"), possession + knowledge, canon("sigillo/offline-key/v1", purpose))


def dynamic_truncation(mac: bytes) -> int:
    """RFC 4226 section 5.3: the low nibble of the last byte is the offset of 31 bits."""
    offset = mac[-1] & 0x0F
    return int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF


def totp_sha256_6(key: bytes, unix_ms: int) -> tuple[int, str]:
    """RFC 6238 with T0 = 0, X = 30 s, HMAC-SHA-256, 6 digits: (T, code)."""
    step = unix_ms // LOGIN_STEP_MS
    mac = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha256).digest()
    return step, f"{dynamic_truncation(mac) % 10**6:06d}"


def ocra_transaction_data_input(challenge_hex: str) -> bytes:
    """RFC 6287 section 5 for OCRA-1:HOTP-SHA256-8:QH64: the suite's bytes, one zero byte,
    then Q: the hexadecimal challenge as its bytes, left-aligned in 128 zero bytes. No C, P, S
    or T."""
    assert len(challenge_hex) == 64
    question = bytes.fromhex(challenge_hex)
    return TRANSACTION_SUITE.encode("ascii") + b"\x00" + question + bytes(128 - len(question))


def ocra_transaction_code(key: bytes, challenge_hex: str) -> str:
    mac = hmac.new(key, ocra_transaction_data_input(challenge_hex), hashlib.sha256).digest()
    return f"{dynamic_truncation(mac) % 10**8:08d}"


def tx_signed_bytes(operation: bytes, nonce: bytes) -> bytes:
    return canon("sigillo/transaction-qr/v1", operation, nonce)


def tx_challenge(signed: bytes) -> str:
    return hashlib.sha256(signed).hexdigest()


def tx_payload(operation: bytes, nonce: bytes, master_scalar: bytes) -> str:
    signature = sign(master_scalar, tx_signed_bytes(operation, nonce))
    return f"{QR_TX_PREFIX}:{b64url(operation)}:{b64url(nonce)}:{b64url(signature)}"


def tx_verify(payload: str, master_public: bytes) -> tuple[bytes, bytes] | None:
    """TransactionQr::verify: exactly four ':'-separated parts (surrounding whitespace
    ignored), the prefix, strict unpadded base64url, a 16-byte nonce, and the master key's
    signature over the signed bytes. Returns (operation, nonce), or None for any refusal."""
    parts = payload.strip().split(":")
    if len(parts) != 4 or parts[0] != QR_TX_PREFIX:
        return None
    operation, nonce, signature = (strict_unb64url(p) for p in parts[1:])
    if operation is None or nonce is None or signature is None or len(nonce) != QR_TX_NONCE_LEN:
        return None
    if not verify(master_public, tx_signed_bytes(operation, nonce), signature):
        return None
    return operation, nonce


# --- Fixed inputs ----------------------------------------------------------------------------

H = bytes.fromhex

# Private scalars (all well inside [1, N)).
ALICE = H("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
BOB = H("0f56db78ca460b055c500064824bed999a25aaf48ebb519ac201537b85479813")
CAROL = H("519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464")
DAVE = H("0000000000000000000000000000000000000000000000000000000000000001")
ERIN = H("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550")  # N - 1

# 32-byte seeds.
SEED_A = H("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
SEED_B = H("7f3a91c2d45e0b8816fa2c9e53d07b41a8e6195f0c2d74b3e9a15680fd3c2e97")
SEED_ZERO = bytes(32)
SEED_FF = b"\xff" * 32
SEED_MASTER = H("5e1d5e1d0badc0ffee0ddba11a57ca1ab1e5eed5a1ad0fba5eba11ca5cadedfe")
SEED_MASTER_2 = H("2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfe")

SALT_A = H("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf")
SALT_B = H("f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff01")

DIGEST_KEY = H("6b6579206f662074686520616374697661746f6e2d736563726574206d61632e")

# Keys from this seed under "vectors/fingerprint/<factor>" give a fingerprint with leading zeros
# (checked below), which exercises the zero padding; found by trying seeds 0, 1, 2, ...
FP_ZERO_SEED = (47).to_bytes(32, "big")


def seeded_public(seed: bytes, label: str) -> bytes:
    return public_bytes(private_key(scalar_from_seed(seed, label)[0]))


# --- Vector groups ---------------------------------------------------------------------------


def canonical_group() -> list[dict]:
    def enc(field: dict) -> bytes | str | int:
        ((kind, value),) = field.items()
        return H(value) if kind == "bytes" else value

    cases = [
        ("only a domain", "d", []),
        ("the unit test's message", "d", [{"str": "ab"}, {"u64": 258}, {"bytes": ""}]),
        ("an empty domain and an empty string", "", [{"str": ""}]),
        ("u64 bounds", "sigillo/test/v1", [{"u64": 0}, {"u64": 1}, {"u64": 2**64 - 1}]),
        ("field boundaries matter (1/2)", "d", [{"str": "ab"}, {"str": "c"}]),
        ("field boundaries matter (2/2)", "d", [{"str": "a"}, {"str": "bc"}]),
        ("UTF-8 strings count bytes, not characters", "sigillo/ünïcode/v1", [{"str": "€ 1.234,56 → Müller"}]),
        ("bytes of every value", "sigillo/bytes/v1", [{"bytes": bytes(range(256)).hex()}]),
        (
            "mixed",
            "sigillo/request/v1",
            [{"str": "possession"}, {"str": "b-123"}, {"bytes": "00ff10"}, {"u64": 1_800_000_000_000}],
        ),
    ]
    return [
        {"name": name, "domain": domain, "fields": fields, "encoding": canon(domain, *map(enc, fields)).hex()}
        for name, domain, fields in cases
    ]


def activation_group() -> list[dict]:
    inputs = [
        ("all zero", bytes(5), bytes(5)),
        ("all one bits", b"\xff" * 5, b"\xff" * 5),
        ("a typical code", H("3c9f2a7b01"), H("d4e85f9126")),
        ("ascending bytes", H("0102030405"), H("060708090a")),
        ("sparse bits", H("00000000ff"), H("00000007f1")),
    ]
    out = []
    for name, code_id, secret in inputs:
        display = code_display(code_id, secret)
        assert code_parse(display) == (code_id, secret)
        plain = display.replace("-", "")
        # Spellings a customer may type that read as the same code.
        alternatives = [plain, display.lower(), display.replace("-", " "), " " + display.lower() + " "]
        if "0" in plain or "1" in plain:
            alternatives.append(display.replace("0", "o").replace("1", "l"))
            alternatives.append(display.replace("0", "O").replace("1", "I"))
        for text in alternatives:
            assert code_parse(text) == (code_id, secret), text
        # Mistakes that the code's own check refuses before any server call.
        refused = []
        i = 7
        wrong = CROCKFORD[(CROCKFORD.index(plain[i]) + 1) % 32]
        refused.append(plain[:i] + wrong + plain[i + 1 :])
        swap = next(j for j in range(19) if plain[j] != plain[j + 1]) if len(set(plain)) > 1 else None
        if swap is not None:
            refused.append(plain[:swap] + plain[swap + 1] + plain[swap] + plain[swap + 2 :])
        last = plain[:19] + CROCKFORD[(CROCKFORD.index(plain[19]) + 5) % 32]
        refused.append(last)
        refused.append(plain[:19])
        refused.append(plain[:10] + "U" + plain[11:])
        rejected = [{"text": text, "error": code_parse(text)} for text in refused]
        assert all(r["error"] != "Ok" and isinstance(r["error"], str) for r in rejected)
        out.append(
            {
                "name": name,
                "id": code_id.hex(),
                "secret": secret.hex(),
                "display": display,
                "lookup_id": code_id.hex(),
                "digest_key": DIGEST_KEY.hex(),
                "secret_digest": secret_digest(DIGEST_KEY, code_id, secret).hex(),
                "also_parses": alternatives,
                "rejected": rejected,
            }
        )
    # The check characters are the CRC zero-extended to 20 bits: the first is 0 or 1; have both.
    assert {c["display"].replace("-", "")[16] for c in out} == {"0", "1"}
    return out


def seeded_key_group() -> list[dict]:
    inputs = [
        ("a knowledge key", SEED_A, KNOWLEDGE_LABEL, False),
        ("another label, another key", SEED_A, "x", False),
        ("the zero seed", SEED_ZERO, KNOWLEDGE_LABEL, False),
        ("the all-ones seed", SEED_FF, "y", False),
        ("an empty label", SEED_B, "", False),
        ("the master key", SEED_MASTER, MASTER_LABEL, True),
        ("another master key", SEED_MASTER_2, MASTER_LABEL, True),
    ]
    out = []
    for name, seed, label, master in inputs:
        scalar, counter = scalar_from_seed(seed, label)
        out.append(
            {
                "name": name,
                "seed": seed.hex(),
                "label": label,
                "master": master,
                "counter": counter,
                "private": scalar.hex(),
                "public": public_bytes(private_key(scalar)).hex(),
            }
        )
    return out


def ecdh_group() -> list[dict]:
    inputs = [
        ("device and server", ALICE, BOB, "b-0001"),
        ("another pair", CAROL, ALICE, "3f2c9a10-7d4e-4b8a-9e21-5c6d7e8f9a0b"),
        ("scalar 1 against N-1", DAVE, ERIN, "b"),
        ("a seeded knowledge key and a server key", scalar_from_seed(SEED_A, KNOWLEDGE_LABEL)[0], CAROL, "b-0002"),
    ]
    out = []
    for name, a, b, binding in inputs:
        shared = ecdh_x(a, public_bytes(private_key(b)))
        assert shared == ecdh_x(b, public_bytes(private_key(a)))
        out.append(
            {
                "name": name,
                "a_private": a.hex(),
                "a_public": public_bytes(private_key(a)).hex(),
                "b_private": b.hex(),
                "b_public": public_bytes(private_key(b)).hex(),
                "shared_x": shared.hex(),
                "binding": binding,
                "otp_keys": {f: factor_otp_key(shared, binding, f).hex() for f in FACTORS},
            }
        )
    return out


def fingerprint_group() -> list[dict]:
    possession = public_bytes(private_key(ALICE))
    server = public_bytes(private_key(BOB))
    inputs = [
        ("possession, server", possession, server),
        ("order matters", server, possession),
        ("another server key", possession, public_bytes(private_key(CAROL))),
        (
            "a fingerprint with a leading zero",
            seeded_public(FP_ZERO_SEED, "vectors/fingerprint/possession"),
            seeded_public(FP_ZERO_SEED, "vectors/fingerprint/server"),
        ),
    ]
    out = [
        {"name": name, "possession": p.hex(), "server": s.hex(), "fingerprint": fingerprint(p, s)}
        for name, p, s in inputs
    ]
    assert out[-1]["fingerprint"].startswith("0"), out[-1]["fingerprint"]
    return out


def pin_group() -> list[dict]:
    inputs = [
        ("a PIN", SEED_A, SALT_A, "24680", "b-0001", "24681"),
        ("a PIN with leading zeros", SEED_B, SALT_B, "00715", "b-0002", "00751"),
        ("another binding", SEED_B, SALT_A, "90210", "3f2c9a10-7d4e-4b8a-9e21-5c6d7e8f9a0b", "90211"),
    ]
    out = []
    for name, seed, salt, pin, binding, wrong_pin in inputs:
        assert not pin_trivial(pin)
        wrapped = xor(seed, pin_pad(pin, salt, binding))
        assert xor(wrapped, pin_pad(pin, salt, binding)) == seed
        wrong_seed = xor(wrapped, pin_pad(wrong_pin, salt, binding))
        public = seeded_public(seed, KNOWLEDGE_LABEL)
        wrong_public = seeded_public(wrong_seed, KNOWLEDGE_LABEL)
        assert wrong_public != public
        out.append(
            {
                "name": name,
                "seed": seed.hex(),
                "salt": salt.hex(),
                "pin": pin,
                "binding": binding,
                "wrapped": wrapped.hex(),
                "knowledge_public": public.hex(),
                "wrong_pin": wrong_pin,
                "wrong_seed": wrong_seed.hex(),
                "wrong_public": wrong_public.hex(),
            }
        )
    return out


def key_confirmation_group(ecdh: list[dict]) -> list[dict]:
    out = []
    fixed = H("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
    for factor in FACTORS:
        out.append({"name": f"a fixed key, {factor}", "otp_key": fixed.hex(), "binding": "b-0001", "factor": factor})
    case = ecdh[0]
    for factor in FACTORS:
        out.append(
            {
                "name": f"the {factor} OTP key of ecdh[0]",
                "otp_key": case["otp_keys"][factor],
                "binding": case["binding"],
                "factor": factor,
            }
        )
    for case in out:
        case["confirmation"] = key_confirmation(H(case["otp_key"]), case["binding"], case["factor"]).hex()
    return out


OPERATIONS = [
    {"id": "op-empty", "kind": "login", "expires_at_ms": 0, "fields": []},
    {
        "id": "op1",
        "kind": "device_binding",
        "expires_at_ms": 5,
        "fields": [["device", "Pixel"], ["fingerprint", "1234 5678"]],
    },
    {
        "id": "7c1e9f0a-51b2-4c3d-8e4f-a5b6c7d8e9f0",
        "kind": "payment",
        "expires_at_ms": 1_800_000_000_000,
        "fields": [
            ["Importo", "€ 1.234,56"],
            ["Beneficiario", "Müller & Söhne GmbH"],
            ["IBAN", "DE89 3704 0044 0532 0130 00"],
            ["Causale", ""],
        ],
    },
    {"id": "", "kind": "", "expires_at_ms": 2**64 - 1, "fields": [["", ""]]},
]


def operation_group() -> list[dict]:
    return [{**op, "encoding": operation_encode(op).hex()} for op in OPERATIONS]


# Pushed logins (matching.rs): (name, operation).
LOGIN_OPERATIONS = [
    ("no details", login_operation("op-login-0", 1_800_000_000_000, [10, 99, 54], [])),
    (
        "as the server makes it: channel and time",
        login_operation(
            "0193c4f2-7a10-7c3e-9b41-1f2e3d4c5b6a",
            1_795_435_500_000,
            [12, 47, 83],
            [["channel", "web"], ["time", "2026-11-23 12:00 UTC"]],
        ),
    ),
    (
        "non-ASCII details",
        login_operation("op-login-2", 5, [71, 35, 28], [["canale", "app"], ["luogo", "Genova, Italia — Chrome"]]),
    ),
]


def login_operation_group() -> list[dict]:
    out = []
    for name, op in LOGIN_OPERATIONS:
        shown = [int(n) for n in op["fields"][0][1].split(" ")]
        out.append(
            {
                "name": name,
                "id": op["id"],
                "expires_at_ms": op["expires_at_ms"],
                "shown": shown,
                "about": op["fields"][1:],
                "fields": op["fields"],
                "encoding": operation_encode(op).hex(),
            }
        )
    return out


def offline_key_group(ecdh: list[dict]) -> list[dict]:
    """Both purposes for the factor OTP keys of ecdh[0] and for two fixed pairs."""
    inputs = [
        ("the OTP keys of ecdh[0]", H(ecdh[0]["otp_keys"]["possession"]), H(ecdh[0]["otp_keys"]["knowledge"]), ecdh[0]["binding"]),
        ("fixed keys, a UUID binding", bytes(range(32)), bytes(range(32, 64)), "0193c4f2-7a10-7c3e-9b41-1f2e3d4c5b6a"),
        # What a wrong PIN does: another knowledge key, so another offline key.
        ("fixed keys, another knowledge key", bytes(range(32)), bytes(range(33, 65)), "0193c4f2-7a10-7c3e-9b41-1f2e3d4c5b6a"),
    ]
    out = []
    for name, kp, kk, binding in inputs:
        for purpose in ("login", "transaction"):
            out.append(
                {
                    "name": f"{name}, {purpose}",
                    "possession": kp.hex(),
                    "knowledge": kk.hex(),
                    "binding": binding,
                    "purpose": purpose,
                    "key": offline_key(kp, kk, binding, purpose).hex(),
                }
            )
    assert len({c["key"] for c in out}) == len(out)
    return out


def login_code_group(offline: list[dict]) -> list[dict]:
    """TOTP codes at chosen times: each step's first and last millisecond, and the window of
    one step either side that the server accepts (and the steps just outside it)."""
    keys = [("login key of offline_key[0]", offline[0]), ("login key of offline_key[2]", offline[2])]
    times = [0, 29_999, 30_000, 59_999, 60_000, 1_111_111_109_000, 1_767_225_599_999, 1_767_225_600_000, 20_000_000_000_000]
    out = []
    for key_name, case in keys:
        assert case["purpose"] == "login"
        key = H(case["key"])
        for t in times:
            step, code = totp_sha256_6(key, t)
            accepted = [a for a in (t - LOGIN_STEP_MS, t, t + LOGIN_STEP_MS) if a >= 0]
            refused = [r for r in (t - 2 * LOGIN_STEP_MS, t + 2 * LOGIN_STEP_MS) if r >= 0]
            # The window check must be decided by the step, not by a chance collision of codes.
            for r in refused:
                window = range(max(0, r // LOGIN_STEP_MS - 1), r // LOGIN_STEP_MS + 2)
                assert all(totp_sha256_6(key, s * LOGIN_STEP_MS)[1] != code for s in window), (t, r)
            out.append(
                {
                    "name": f"{key_name} at {t} ms",
                    "key": case["key"],
                    "time_ms": t,
                    "step": step,
                    "code": code,
                    "accepted_at_ms": accepted,
                    "refused_at_ms": refused,
                }
            )
    return out


def transaction_qr_group(offline: list[dict]) -> list[dict]:
    credit_transfer = {
        # PROTOCOL.md section 12.4's worked example.
        "id": "op-7",
        "kind": "payment.credit_transfer",
        "expires_at_ms": 1_767_225_600_000,
        "fields": [
            ["amount", "12.50"],
            ["currency", "EUR"],
            ["payee", "Mario Rossi"],
            ["iban", "IT60X0542811101000000123456"],
            ["description", "Invoice 42"],
        ],
    }
    bill = {
        "id": "0193c4f2-7a10-7c3e-9b41-1f2e3d4c5b6b",
        "kind": "payment.bill",
        "expires_at_ms": 1_795_435_500_000,
        "fields": [["amount", "1234.56"], ["currency", "EUR"], ["payee", "Società Acque Liguri"], ["bill_code", "RF18539007547034"]],
    }
    inputs = [
        ("the worked example of section 12.4", SEED_MASTER, offline[1], credit_transfer, H("000102030405060708090a0b0c0d0e0f")),
        ("a bill, another master key and key", SEED_MASTER_2, offline[3], bill, H("f0e1d2c3b4a5968778695a4b3c2d1e0f")),
    ]
    out = []
    for name, seed, key_case, op, nonce in inputs:
        assert key_case["purpose"] == "transaction"
        key = H(key_case["key"])
        scalar = scalar_from_seed(seed, MASTER_LABEL)[0]
        master_public = public_bytes(private_key(scalar))
        op_bytes = operation_encode(op)
        signed = tx_signed_bytes(op_bytes, nonce)
        challenge = tx_challenge(signed)
        code = ocra_transaction_code(key, challenge)
        payload = tx_payload(op_bytes, nonce, scalar)
        assert tx_verify(payload, master_public) == (op_bytes, nonce)
        prefix, op_b64, nonce_b64, sig_b64 = payload.split(":")

        def changed(label: str, value: str) -> bytes:
            return operation_encode({**op, "fields": [[l, value if l == label else v] for l, v in op["fields"]]})

        amount = op["fields"][0][1]
        more = amount[:-1] + str((int(amount[-1]) + 1) % 10)
        changes = [
            ("one cent more", changed("amount", more), nonce),
            ("another payee", changed("payee", op["fields"][2][1] + "."), nonce),
            ("another nonce", op_bytes, bytes(reversed(nonce))),
        ]
        tampered_codes = []
        for what, other_op, other_nonce in changes:
            other_signed = tx_signed_bytes(other_op, other_nonce)
            other_code = ocra_transaction_code(key, tx_challenge(other_signed))
            assert other_code != code, what
            tampered_codes.append({"what": what, "signed_bytes": other_signed.hex(), "code": other_code})
        other_master = scalar_from_seed(SEED_MASTER_2 if seed == SEED_MASTER else SEED_MASTER, MASTER_LABEL)[0]
        refused = [
            ("the amount changed under the same signature", f"{prefix}:{b64url(changed('amount', more))}:{nonce_b64}:{sig_b64}"),
            ("another nonce under the same signature", f"{prefix}:{op_b64}:{b64url(bytes(reversed(nonce)))}:{sig_b64}"),
            ("signed by another master key", tx_payload(op_bytes, nonce, other_master)),
            ("another prefix", f"SIGILLOTX2:{op_b64}:{nonce_b64}:{sig_b64}"),
            ("the activation QR's prefix", f"SIGILLO1:{op_b64}:{nonce_b64}:{sig_b64}"),
            ("a fifth part", f"{payload}:x"),
            ("padded base64", f"{prefix}:{op_b64}:{b64url(nonce)}==:{sig_b64}"),
            ("a properly signed 15-byte nonce", tx_payload(op_bytes, nonce[:15], scalar)),
            ("the signature over the operation bytes alone", f"{prefix}:{op_b64}:{nonce_b64}:{b64url(sign(scalar, op_bytes))}"),
        ]
        for what, text in refused:
            assert tx_verify(text, master_public) is None, what
        out.append(
            {
                "name": name,
                "master_seed": seed.hex(),
                "master_public": master_public.hex(),
                "key": key_case["key"],
                "operation": op,
                "operation_bytes": op_bytes.hex(),
                "nonce": nonce.hex(),
                "signed_bytes": signed.hex(),
                "suite": TRANSACTION_SUITE,
                "challenge": challenge,
                "data_input": ocra_transaction_data_input(challenge).hex(),
                "code": code,
                "payload": payload,
                "also_accepted": [payload + "\n", "  " + payload],
                "refused": [{"what": what, "payload": text} for what, text in refused],
                "tampered_codes": tampered_codes,
            }
        )
    return out


def signature_group() -> list[dict]:
    possession = ALICE
    knowledge = scalar_from_seed(SEED_A, KNOWLEDGE_LABEL)[0]
    biometry = CAROL
    scalars = {"possession": possession, "knowledge": knowledge, "biometry": biometry}
    publics = {f: public_bytes(private_key(s)) for f, s in scalars.items()}
    challenge = H("9b2f4c1d7e8a0b3c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4")
    code = code_display(H("3c9f2a7b01"), H("d4e85f9126"))
    op = OPERATIONS[2]

    def request(i: dict) -> bytes:
        return msg_request(i["factor"], i["binding"], H(i["challenge"]), i["method"], i["path"], H(i["body"]))

    def approval(i: dict) -> bytes:
        return msg_approval(i["factor"], i["binding"], H(i["challenge"]), operation_encode(i["operation"]))

    def activation_proof(i: dict) -> bytes:
        biometry = None if i["biometry"] is None else H(i["biometry"])
        keys = (H(i["possession"]), H(i["knowledge"]), biometry)
        return msg_activation_proof(i["factor"], i["code"], i["device_name"], i["platform"], *keys)

    def approval_with_answer(i: dict) -> bytes:
        op_bytes = operation_encode(i["operation"])
        return msg_approval_with_answer(i["factor"], i["binding"], H(i["challenge"]), op_bytes, i["answer"])

    build = {
        "request": request,
        "approval": approval,
        "activation_proof": activation_proof,
        "approval_with_answer": approval_with_answer,
    }

    def req(factor: str, method: str, path: str, body: bytes) -> dict:
        return {
            "type": "request",
            "factor": factor,
            "binding": "b-0001",
            "challenge": challenge.hex(),
            "method": method,
            "path": path,
            "body": body.hex(),
        }

    def appr(factor: str, operation: dict) -> dict:
        return {
            "type": "approval",
            "factor": factor,
            "binding": "b-0001",
            "challenge": challenge.hex(),
            "operation": operation,
        }

    def proof(factor: str, with_biometry: bool) -> dict:
        return {
            "type": "activation_proof",
            "factor": factor,
            "code": code,
            "device_name": "Pixel 8 di Anna",
            "platform": "android",
            "possession": publics["possession"].hex(),
            "knowledge": publics["knowledge"].hex(),
            "biometry": publics["biometry"].hex() if with_biometry else None,
        }

    def appr_answer(factor: str, answer: str) -> dict:
        return {
            "type": "approval_with_answer",
            "factor": factor,
            "binding": "b-0001",
            "challenge": challenge.hex(),
            "operation": LOGIN_OPERATIONS[1][1],
            "answer": answer,
        }

    body = b'{"amount":"1234.56","currency":"EUR"}'
    changed_op = {**op, "fields": [list(f) for f in op["fields"]]}
    changed_op["fields"][0][1] = "€ 9.234,56"
    # (name, inputs, what the signature was actually made over: None means the message itself)
    cases = [
        ("request, possession, empty body", req("possession", "GET", "/device/v1/operations", b""), None),
        ("request, knowledge, JSON body", req("knowledge", "POST", "/device/v1/operations/op1/approve", body), None),
        ("request, biometry", req("biometry", "POST", "/device/v1/keys", b"\x00\x01"), None),
        (
            "request: the signature covers another body",
            req("possession", "POST", "/device/v1/operations/op1/approve", body),
            req("possession", "POST", "/device/v1/operations/op1/approve", body.replace(b"1234", b"9234")),
        ),
        ("approval, possession", appr("possession", op), None),
        ("approval, knowledge", appr("knowledge", op), None),
        ("approval, biometry, an empty operation", appr("biometry", OPERATIONS[0]), None),
        ("approval: the signature covers another amount", appr("knowledge", op), appr("knowledge", changed_op)),
        ("approval with an answer, possession", appr_answer("possession", "47"), None),
        ("approval with an answer, knowledge", appr_answer("knowledge", "47"), None),
        ("approval with an answer, biometry", appr_answer("biometry", "47"), None),
        (
            "approval with an answer: the signature covers another number",
            appr_answer("knowledge", "47"),
            appr_answer("knowledge", "83"),
        ),
        (
            "approval with an answer: a plain approval of the same login is not one",
            appr_answer("knowledge", "47"),
            appr("knowledge", LOGIN_OPERATIONS[1][1]),
        ),
        ("activation proof, possession", proof("possession", True), None),
        ("activation proof, knowledge", proof("knowledge", True), None),
        ("activation proof, biometry", proof("biometry", True), None),
        ("activation proof without a biometry key", proof("possession", False), None),
        (
            "activation proof: the signature covers another device name",
            proof("knowledge", True),
            {**proof("knowledge", True), "device_name": "Pixel 8 di Mallory"},
        ),
    ]
    out = []
    for name, inputs, signed_inputs in cases:
        factor = inputs["factor"]
        message = build[inputs["type"]](inputs)
        signed = message if signed_inputs is None else build[signed_inputs["type"]](signed_inputs)
        signature = sign(scalars[factor], signed)
        valid = signed_inputs is None
        assert verify(publics[factor], signed, signature)
        assert verify(publics[factor], message, signature) == valid
        case = {
            "name": name,
            "inputs": inputs,
            "private": scalars[factor].hex(),
            "public_key": publics[factor].hex(),
            "message": message.hex(),
            "signature": b64url(signature),
            "valid": valid,
        }
        if not valid:
            case["signed_message"] = signed.hex()
        out.append(case)
    for kind in build:
        assert any(c["inputs"]["type"] == kind and not c["valid"] for c in out), kind
    return out


def qr_group() -> list[dict]:
    inputs = [
        ("a QR", SEED_MASTER, H("3c9f2a7b01"), H("d4e85f9126"), 1_800_000_000_000),
        ("another master key and code", SEED_MASTER_2, H("0102030405"), H("060708090a"), 1_760_000_123_456),
    ]
    out = []
    for name, seed, code_id, secret, expires in inputs:
        scalar = scalar_from_seed(seed, MASTER_LABEL)[0]
        master_public = public_bytes(private_key(scalar))
        display = code_display(code_id, secret)
        payload = qr_payload(display, expires, scalar)
        assert qr_verify(payload, master_public) == (code_id, secret, expires)
        prefix, _, exp, sig = payload.split(":")

        def one_char(text: str, i: int) -> str:
            alphabet = "0123456789" if text[i].isdigit() else CROCKFORD
            c = alphabet[(alphabet.index(text[i].upper()) + 1) % len(alphabet)]
            return text[:i] + c + text[i + 1 :]

        def lower_one(text: str) -> str:
            i = next(i for i, c in enumerate(text) if c.isalpha())
            return text[:i] + text[i].lower() + text[i + 1 :]

        other_master = scalar_from_seed(SEED_MASTER_2 if seed == SEED_MASTER else SEED_MASTER, MASTER_LABEL)[0]
        sig_i = len(sig) // 2
        sig_c = "B" if sig[sig_i] != "B" else "C"
        tampered = [
            ("another character in the code", f"{prefix}:{one_char(display, 2)}:{exp}:{sig}"),
            # The same code to a customer, but not the text that was signed.
            ("one letter of the code in lower case", f"{prefix}:{lower_one(display)}:{exp}:{sig}"),
            ("another digit in the expiry", f"{prefix}:{display}:{one_char(exp, 1)}:{sig}"),
            ("another character in the signature", f"{prefix}:{display}:{exp}:{sig[:sig_i]}{sig_c}{sig[sig_i + 1:]}"),
            ("another prefix", f"SIGILLO2:{display}:{exp}:{sig}"),
            ("signed by another master key", qr_payload(display, expires, other_master)),
        ]
        refused = []
        for what, text in tampered:
            error = qr_verify(text, master_public)
            assert isinstance(error, str), what
            refused.append({"what": what, "payload": text, "error": error})
        out.append(
            {
                "name": name,
                "master_seed": seed.hex(),
                "master_public": master_public.hex(),
                "id": code_id.hex(),
                "secret": secret.hex(),
                "display": display,
                "expires_at_ms": expires,
                "payload": payload,
                "also_accepted": [payload + "\n", "  " + payload],
                "refused": refused,
            }
        )
    return out


def vectors() -> dict:
    ecdh = ecdh_group()
    offline = offline_key_group(ecdh)
    return {
        "description": (
            "sigillo device-binding protocol test vectors (issues 3 and 4), made by make_vectors.py with Python "
            "and the cryptography package, independently of the Rust code; reproduced by tests/vectors.rs. "
            "Hex is lowercase; signatures are DER, base64url without padding. Do not edit by hand."
        ),
        "canonical": canonical_group(),
        "activation_code": activation_group(),
        "seeded_key": seeded_key_group(),
        "ecdh": ecdh,
        "fingerprint": fingerprint_group(),
        "pin_wrap": pin_group(),
        "key_confirmation": key_confirmation_group(ecdh),
        "signatures": signature_group(),
        "qr": qr_group(),
        "operation": operation_group(),
        "login_operation": login_operation_group(),
        "offline_key": offline,
        "login_code": login_code_group(offline),
        "transaction_qr": transaction_qr_group(offline),
    }


def render() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="regenerate in memory; exit 1 if device.json differs")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"the JSON file (default {OUTPUT})")
    args = parser.parse_args()
    try:
        text = render()
    except UnsupportedAlgorithm as e:
        sys.exit(f"make_vectors.py needs RFC 6979 ECDSA (cryptography with OpenSSL >= 3.2): {e}")
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True), str(args.output), "regenerated", n=1
            )
            sys.stderr.writelines(list(diff)[:200])
            print(f"{args.output} differs from what make_vectors.py generates", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
