"""Unit tests: validation codes and boundaries, argon2id hashing, tokens, clock, email bodies."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from accounts import passwords
from accounts.clock import ManualClock, SystemClock
from accounts.emails import activation_email, reset_code_email
from accounts.tokens import hash_reset_code, hash_token, new_activation_token, new_reset_code
from accounts.validation import (
    CODES,
    ValidationError,
    validate_confirm_matches,
    validate_confirm_present,
    validate_email,
    validate_password,
    validate_username,
)


def code_of(func, value, *args):
    with pytest.raises(ValidationError) as info:
        func(value, *args)
    return info.value.code


# --------------------------------------------------------------------------- username
@pytest.mark.parametrize("value", [None, "", "   ", "\n\t"])
def test_username_required(value):
    assert code_of(validate_username, value) == "username_required"


@pytest.mark.parametrize("value", ["a", "ab", "  ab  "])
def test_username_too_short(value):
    assert code_of(validate_username, value) == "username_too_short"


def test_username_boundaries():
    assert validate_username("abc") == "abc"
    assert validate_username("  abc  ") == "abc"
    assert validate_username("a" * 20) == "a" * 20
    assert validate_username("  " + "a" * 20 + "  ") == "a" * 20
    assert code_of(validate_username, "a" * 21) == "username_too_long"


# --------------------------------------------------------------------------- email
@pytest.mark.parametrize("value", [None, "", "    "])
def test_email_required(value):
    assert code_of(validate_email, value) == "email_required"


@pytest.mark.parametrize(
    "value",
    [
        "plainaddress",
        "a@b.co",  # valid shape but 6 characters: under the minimum of 8
        "a@bc.io",  # 7 characters
        "no-at-sign.example.com",
        "two@@example.com",
        "user@example",
        "user@.example.com",
        "user@example..com",
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        "user name@example.com",
        "user@exa mple.com",
        "user@-example.com",
        "user@example.c",
        "user@example.123",
        "a" * 65 + "@example.com",
        "user@" + "a" * 250 + ".com",
    ],
)
def test_email_invalid(value):
    assert code_of(validate_email, value) == "email_invalid"


def test_email_normalised_and_min_length():
    assert validate_email("  Alice.Smith@Example.COM ") == "alice.smith@example.com"
    assert validate_email("ab@cd.io") == "ab@cd.io"  # exactly 8 characters
    assert validate_email("first+tag@sub.example.co.uk") == "first+tag@sub.example.co.uk"


# --------------------------------------------------------------------------- password
@pytest.mark.parametrize("value", [None, ""])
def test_password_required(value):
    assert code_of(validate_password, value) == "password_required"


@pytest.mark.parametrize(
    "value",
    [
        "Ab1!xyz",  # 7 characters
        "abcdefg1!",  # no uppercase
        "ABCDEFG1!",  # no lowercase
        "Abcdefgh!",  # no digit
        "Abcdefgh1",  # no special
        "Abcdefg 1",  # a space is not a special character
        "        ",
    ],
)
def test_password_weak(value):
    assert code_of(validate_password, value) == "password_weak"


def test_password_ok_and_untrimmed():
    assert validate_password("Ab1!xyzw") == "Ab1!xyzw"  # exactly 8
    assert validate_password(" Ab1!xyzw ") == " Ab1!xyzw "


def test_confirm():
    assert code_of(validate_confirm_present, None) == "confirm_required"
    assert code_of(validate_confirm_present, "") == "confirm_required"
    assert validate_confirm_present("x") == "x"


def test_confirm_matches_against_hash(cheap):
    hashed = passwords.hash_password("Ab1!xyzw")
    assert validate_confirm_matches("Ab1!xyzw", hashed) == "Ab1!xyzw"
    assert code_of(validate_confirm_matches, "Ab1!xyzW", hashed) == "confirm_mismatch"
    assert code_of(validate_confirm_matches, "", hashed) == "confirm_required"


def test_every_code_is_reachable():
    seen = {
        code_of(validate_username, ""),
        code_of(validate_username, "ab"),
        code_of(validate_username, "a" * 21),
        code_of(validate_email, ""),
        code_of(validate_email, "bad"),
        code_of(validate_password, ""),
        code_of(validate_password, "weak"),
        code_of(validate_confirm_present, ""),
    }
    assert seen | {"confirm_mismatch"} == CODES
    with pytest.raises(ValueError):
        ValidationError("nope")


# --------------------------------------------------------------------------- hashing
@pytest.fixture
def cheap():
    passwords.configure(time_cost=1, memory_cost=8, parallelism=1)
    yield
    passwords.reset_defaults()


def test_hash_is_argon2id_salted_and_verifies(cheap):
    h1 = passwords.hash_password("Str0ng!pass")
    h2 = passwords.hash_password("Str0ng!pass")
    assert h1.startswith("$argon2id$")
    assert "Str0ng!pass" not in h1
    assert h1 != h2  # random salt
    assert passwords.verify_password(h1, "Str0ng!pass")
    assert not passwords.verify_password(h1, "Str0ng!pasS")
    assert not passwords.verify_password("not a hash", "Str0ng!pass")
    assert not passwords.verify_password("", "Str0ng!pass")


def test_default_parameters_are_real_ones():
    passwords.reset_defaults()
    hasher = passwords._hasher
    assert hasher.time_cost >= 2 and hasher.memory_cost >= 19 * 1024
    cheap_hash = passwords.hash_password("x", hasher=type(hasher)(time_cost=1, memory_cost=8, parallelism=1))
    assert passwords.verify_password(cheap_hash, "x")  # parameters are read from the hash
    assert passwords.needs_rehash(cheap_hash)


# --------------------------------------------------------------------------- tokens
def test_activation_token_shape_and_entropy():
    tokens = [new_activation_token() for _ in range(500)]
    assert len(set(tokens)) == 500
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", token)
        assert len(token) * 6 >= 128  # base64url: 6 bits per character
    # the characters are spread over the whole alphabet (rough uniformity check)
    counts = Counter("".join(tokens))
    assert len(counts) >= 60
    total = sum(counts.values())
    entropy = -sum(c / total * math.log2(c / total) for c in counts.values())
    assert entropy > 5.8  # log2(64) = 6


def test_hash_token_is_sha256_hex():
    h = hash_token("abc")
    assert h == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_token("abd") != h


def test_reset_code():
    codes = [new_reset_code() for _ in range(2000)]
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(set(codes)) > 1900
    assert any(c.startswith("0") for c in codes)  # zero-padded, not 100000..999999 only
    a = hash_reset_code("123456", key="k", salt="s1")
    assert a == hash_reset_code(" 123456 ", key="k", salt="s1")
    assert a != hash_reset_code("123456", key="k", salt="s2")
    assert a != hash_reset_code("123456", key="k2", salt="s1")


# --------------------------------------------------------------------------- clock
def test_manual_clock():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clock = ManualClock(start)
    assert clock.now() == start
    clock.advance(timedelta(hours=25))
    assert clock.now() == start + timedelta(hours=25)
    clock.set(start)
    assert clock.now() == start
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    assert ManualClock().now().tzinfo is not None
    assert SystemClock().now().tzinfo is not None


# --------------------------------------------------------------------------- email bodies
def test_email_bodies_escape_and_carry_link_and_code():
    subject, text, html = activation_email("<b>al</b>", "https://t.me/bot?start=abc_DEF-1")
    assert "https://t.me/bot?start=abc_DEF-1" in text and "https://t.me/bot?start=abc_DEF-1" in html
    assert "<b>al</b>" not in html and "&lt;b&gt;al&lt;/b&gt;" in html
    assert "24 hours" in text and subject
    subject, text, html = reset_code_email("al", "012345")
    assert "012345" in text and "012345" in html and "15 minutes" in text


def test_domain_never_imports_telegram():
    import subprocess
    import sys

    code = (
        "import sys, accounts, accounts.service, accounts.mailer, accounts.emails, storage.accounts;"
        "bad = sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.'));"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
