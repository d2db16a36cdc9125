"""Sign-in: password hashes, the users file, Chainlit's password and header callbacks, the session secret,
and what `necto user add` writes. Owners: each signed-in name is its own ledger owner."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import chainlit as cl
import pytest
from chainlit.config import config
from starlette.datastructures import Headers
from typer.testing import CliRunner

from tools.settings import NectoSettings
from ui import accounts, users
from ui.serve import AUTH_SECRET_FILE, auth_secret, chainlit_env
from ui.users import (
    AccountError,
    UserDirectory,
    check_name,
    hash_password,
    header_identity,
    parse_users,
    read_users_file,
    verify_password,
    write_users_file,
)

FAST = 1_000  # PBKDF2 iterations for tests (the real default is 600 000)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def directory() -> UserDirectory:
    return UserDirectory({"alice": hash_password("correct horse", iterations=FAST),
                          "bob": hash_password("battery staple", iterations=FAST)})


@pytest.fixture
def chainlit_hooks(monkeypatch):
    """Chainlit's process-wide callback slots, restored after the test."""
    for name in ("password_auth_callback", "header_auth_callback", "data_layer", "on_chat_resume"):
        monkeypatch.setattr(config.code, name, None)
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    return config.code


# ------------------------------------------------------------------------------------------------ hashes
def test_hash_has_the_documented_layout_and_a_fresh_salt():
    first, second = hash_password("pw-1234567890", iterations=FAST), hash_password("pw-1234567890", iterations=FAST)
    algorithm, iterations, salt, digest = first.split("$")
    assert (algorithm, iterations) == ("pbkdf2_sha256", str(FAST))
    assert first != second  # salted
    assert "pw-1234567890" not in first
    assert hash_password("x").split("$")[1] == "600000"
    # An independent computation of the same PBKDF2 matches the stored digest.
    raw_salt = users._unb64(salt)
    assert users._unb64(digest) == hashlib.pbkdf2_hmac("sha256", b"pw-1234567890", raw_salt, FAST)


@pytest.mark.parametrize("encoded", ["", "plain", "md5$1$a$b", "pbkdf2_sha256$x$a$b", "pbkdf2_sha256$0$YQ$YQ",
                                     "pbkdf2_sha256$10$!!$YQ"])
def test_malformed_hashes_never_verify(encoded):
    assert verify_password("anything", encoded) is False


def test_verify_right_and_wrong_password():
    encoded = hash_password("correct horse", iterations=FAST)
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct hors", encoded)
    assert not verify_password("", encoded)


def test_empty_password_is_refused_with_a_sentence():
    with pytest.raises(AccountError) as info:
        hash_password("")
    assert info.value.hint


# ------------------------------------------------------------------------------------------------ callbacks
async def test_password_callback_good_bad_and_unknown(directory):
    check = accounts.password_callback(directory)
    alice = await check("alice", "correct horse")
    assert isinstance(alice, cl.User) and alice.identifier == "alice"
    assert alice.metadata == {"provider": "password"}  # nothing secret rides in the session token
    assert await check("alice", "battery staple") is None  # bob's password
    assert await check("alice", "") is None
    assert await check("mallory", "correct horse") is None
    assert await check("Alice", "correct horse") is None  # names are exact
    assert await check(None, None) is None  # type: ignore[arg-type]


async def test_unknown_names_cost_the_same_hashing_as_known_ones(directory, monkeypatch):
    """The timing-safe path: an unknown name still runs PBKDF2 at the configured cost, then a constant-time
    compare; a known name with a wrong password does exactly the same work."""
    real_pbkdf2, real_compare = hashlib.pbkdf2_hmac, users.hmac.compare_digest
    work: list[tuple[str, int]] = []

    def pbkdf2(name, password, salt, iterations, *rest):
        work.append(("pbkdf2", iterations))
        return real_pbkdf2(name, password, salt, iterations, *rest)

    def compare(a, b):
        work.append(("compare", len(a)))
        return real_compare(a, b)

    monkeypatch.setattr(users.hashlib, "pbkdf2_hmac", pbkdf2)
    monkeypatch.setattr(users.hmac, "compare_digest", compare)
    check = accounts.password_callback(directory)

    assert await check("mallory", "correct horse") is None
    unknown = list(work)
    work.clear()
    assert await check("alice", "wrong password") is None
    known = list(work)
    assert unknown == known == [("pbkdf2", FAST), ("compare", 32)]


def test_the_decoy_uses_the_dearest_configured_cost():
    cheap, dear = hash_password("a-password-1", iterations=FAST), hash_password("a-password-2", iterations=2 * FAST)
    assert UserDirectory({"a": cheap, "b": dear})._decoy.split("$")[1] == str(2 * FAST)


async def test_header_callback_maps_the_proxy_header_to_a_user(tmp_path):
    settings = NectoSettings(data_dir=tmp_path, auth="header", auth_header="X-Forwarded-User")
    check = accounts.header_callback(settings)
    user = await check(Headers({"x-forwarded-user": "alice@example.com"}))  # header names are case-insensitive
    assert user is not None and user.identifier == "alice@example.com" and user.metadata == {"provider": "header"}
    assert await check(Headers({})) is None
    assert await check(Headers({"x-forwarded-user": ""})) is None
    for forged in ("local", "../bob", "a b", "x" * 200, "<script>"):
        assert await check(Headers({"x-forwarded-user": forged})) is None, forged


async def test_header_callback_with_a_proxy_secret_needs_the_secret(tmp_path):
    settings = NectoSettings(data_dir=tmp_path, auth="header", auth_proxy_secret="s3cret-from-the-proxy")
    check = accounts.header_callback(settings)
    assert await check(Headers({"X-Forwarded-User": "alice"})) is None  # straight to the chat: no secret
    assert await check(Headers({"X-Forwarded-User": "alice", "X-Necto-Proxy-Secret": "guess"})) is None
    user = await check(Headers({"X-Forwarded-User": "alice", "X-Necto-Proxy-Secret": "s3cret-from-the-proxy"}))
    assert user is not None and user.identifier == "alice"


async def test_callbacks_map_users_to_distinct_owners(directory, tmp_path):
    password = accounts.password_callback(directory)
    header = accounts.header_callback(NectoSettings(data_dir=tmp_path, auth="header"))
    alice = await password("alice", "correct horse")
    bob = await password("bob", "battery staple")
    carol = await header(Headers({"X-Forwarded-User": "carol"}))
    owners = [accounts.owner_of(u) for u in (alice, bob, carol)]
    assert owners == ["alice", "bob", "carol"]
    assert accounts.owner_of(None) == "local"  # no sign-in: the CLI's owner
    assert "local" not in owners


def test_header_identity_is_pure():
    assert header_identity({"X-User": " dana "}, header="X-User", proxy_secret=None) == "dana"
    assert header_identity({"X-User": "dana"}, header="X-Other", proxy_secret=None) is None


# ------------------------------------------------------------------------------------------------ names, users
@pytest.mark.parametrize("name", ["local", "", "a:b", "a,b", "-x", "a b", "é"])
def test_names_that_cannot_be_users(name):
    with pytest.raises(AccountError):
        check_name(name)


def test_users_setting_takes_commas_or_newlines_and_never_echoes_a_bad_entry():
    a, b = hash_password("password-a", iterations=FAST), hash_password("password-b", iterations=FAST)
    assert parse_users(f"alice:{a}, bob:{b}", source="x") == {"alice": a, "bob": b}
    assert parse_users(f"# team\nalice:{a}\n\nbob:{b}  # ops\n", source="x") == {"alice": a, "bob": b}
    with pytest.raises(AccountError) as info:
        parse_users("alice:hunter2-plaintext", source="NECTO_AUTH_USERS")
    assert "hunter2" not in info.value.message + info.value.hint
    assert "NECTO_AUTH_USERS" in info.value.message


def test_users_file_is_0600_and_a_readable_one_is_refused(tmp_path):
    path = tmp_path / "data" / "users"
    encoded = hash_password("password-a", iterations=FAST)
    write_users_file(path, {"alice": encoded})
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert read_users_file(path) == {"alice": encoded}
    os.chmod(path, 0o644)
    with pytest.raises(AccountError) as info:
        read_users_file(path)
    assert "chmod 600" in info.value.hint
    assert read_users_file(tmp_path / "missing") == {}


def test_setting_entries_win_over_the_users_file(tmp_path):
    old, new = hash_password("old-password", iterations=FAST), hash_password("new-password", iterations=FAST)
    write_users_file(tmp_path / "users", {"alice": old})
    settings = NectoSettings(data_dir=tmp_path, auth="password", auth_users=f"alice:{new}")
    directory = UserDirectory.from_settings(settings)
    assert directory.authenticate("alice", "new-password") == "alice"
    assert directory.authenticate("alice", "old-password") is None


def test_necto_user_add_writes_a_hash_only_file_0600(tmp_path, monkeypatch):
    from ui.cli import app

    monkeypatch.setenv("NECTO_DATA_DIR", str(tmp_path / "necto"))
    runner = CliRunner()
    added = runner.invoke(app, ["user", "add", "alice", "--password-stdin"], input="a long passphrase\n")
    assert added.exit_code == 0, added.output
    path = tmp_path / "necto" / "users"
    assert _mode(path) == 0o600
    body = path.read_text()
    assert "a long passphrase" not in body and "alice:pbkdf2_sha256$600000$" in body
    assert UserDirectory(read_users_file(path)).authenticate("alice", "a long passphrase") == "alice"

    again = runner.invoke(app, ["user", "add", "alice", "--password-stdin"], input="another passphrase\n")
    assert again.exit_code == 1 and "--replace" in again.output
    short = runner.invoke(app, ["user", "add", "bob", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "12 characters" in short.output and "short" not in path.read_text()
    reserved = runner.invoke(app, ["user", "add", "local", "--password-stdin"], input="a long passphrase\n")
    assert reserved.exit_code == 1 and "reserved" in reserved.output and "Traceback" not in reserved.output
    assert runner.invoke(app, ["user", "list"]).output.split() == ["alice"]

    auth_secret(tmp_path / "necto")
    removed = runner.invoke(app, ["user", "remove", "alice"])
    assert removed.exit_code == 0 and read_users_file(path) == {}
    assert not (tmp_path / "necto" / AUTH_SECRET_FILE).exists()  # everyone signs in again after a restart


def test_serve_refuses_password_mode_without_users(tmp_path, monkeypatch):
    from ui.cli import app

    monkeypatch.setenv("NECTO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NECTO_AUTH", "password")
    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 1 and "necto user add" in result.output


# ------------------------------------------------------------------------------------------------ secret, install
def test_auth_secret_is_made_once_0600(tmp_path):
    first = auth_secret(tmp_path / "d")
    assert len(first) >= 32 and _mode(tmp_path / "d" / AUTH_SECRET_FILE) == 0o600
    assert auth_secret(tmp_path / "d") == first
    (tmp_path / "d" / AUTH_SECRET_FILE).write_text("short")
    assert auth_secret(tmp_path / "d") not in {first, "short"}  # a damaged file is replaced


def test_chainlit_env_sets_the_secret_only_when_sign_in_is_on(tmp_path):
    base = {"NECTO_DATA_DIR": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    assert "CHAINLIT_AUTH_SECRET" not in chainlit_env(base)
    env = chainlit_env({**base, "NECTO_AUTH": "password"})
    assert env["CHAINLIT_AUTH_SECRET"] == (tmp_path / AUTH_SECRET_FILE).read_text().strip()
    assert chainlit_env({**base, "NECTO_AUTH": "password", "CHAINLIT_AUTH_SECRET": "mine"})["CHAINLIT_AUTH_SECRET"] == "mine"


def test_install_none_registers_nothing(tmp_path, chainlit_hooks):
    assert accounts.install(NectoSettings(data_dir=tmp_path)) == "none"
    assert chainlit_hooks.password_auth_callback is None and chainlit_hooks.header_auth_callback is None
    assert chainlit_hooks.data_layer is None and "CHAINLIT_AUTH_SECRET" not in os.environ
    assert not (tmp_path / "chat.db").exists()


async def test_install_password_registers_login_history_and_secret(tmp_path, chainlit_hooks):
    write_users_file(tmp_path / "users", {"alice": hash_password("correct horse", iterations=FAST)})
    assert accounts.install(NectoSettings(data_dir=tmp_path, auth="password")) == "password"
    user = await chainlit_hooks.password_auth_callback("alice", "correct horse")
    assert user.identifier == "alice"
    assert await chainlit_hooks.password_auth_callback("alice", "nope") is None
    assert chainlit_hooks.header_auth_callback is None
    assert os.environ["CHAINLIT_AUTH_SECRET"] == auth_secret(tmp_path)
    assert chainlit_hooks.data_layer is not None and chainlit_hooks.on_chat_resume is not None
    assert _mode(tmp_path / "chat.db") == 0o600


async def test_install_header_registers_the_header_callback(tmp_path, chainlit_hooks):
    settings = NectoSettings(data_dir=tmp_path, auth="header", auth_header="X-Auth-User", chat_history=False)
    assert accounts.install(settings) == "header"
    user = await chainlit_hooks.header_auth_callback(Headers({"X-Auth-User": "erin"}))
    assert user.identifier == "erin"
    assert chainlit_hooks.password_auth_callback is None and chainlit_hooks.data_layer is None
