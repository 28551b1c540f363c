"""Console accounts and the activity log: add, disable, reset, authenticate, record changes.

Passwords are hashed with scrypt (memory-hard, in the standard library): 16 MiB and about
50 ms per hash, so a stolen table is expensive to attack and a login stays quick.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from asap_sync.service.admin_ports import ACTIVE, DISABLED, check_id
from asap_sync.service.operator_ports import (
    Actor,
    ChangeFilter,
    LoggedChange,
    OperatorError,
    OperatorRecord,
    OperatorSessions,
    Role,
)

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# A hash to compare against when the name is unknown, so a login takes as long either way.
_ABSENT_SALT = b"\x00" * 16


def hash_password(password: str, *, salt: bytes) -> str:
    """``scrypt$N$r$p$salt$hash``, base64 without padding."""
    derived = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(derived)]
    )


def password_matches(password: str, stored: str) -> bool:
    """Constant-time comparison of a password with a stored hash."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, _unb64(expected))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def check_password(password: str) -> str:
    """Refuse passwords too short to resist guessing, or absurdly long."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise OperatorError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    return password


def parse_role(text: str) -> Role:
    """A role by name."""
    try:
        return Role(text)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise OperatorError(f"unknown role {text!r}: one of {names}") from None


# -- accounts -----------------------------------------------------------------------------


def add_operator(
    sessions: OperatorSessions,
    name: str,
    *,
    role: Role,
    password: str,
    salt: bytes,
    actor: Actor,
) -> OperatorRecord:
    """Create a console account, logged as a change by ``actor``."""
    check_id("operator name", name)
    hashed = hash_password(check_password(password), salt=salt)
    record = OperatorRecord(
        name=name,
        role=role,
        status=ACTIVE,
        session_epoch=1,
        created_at=actor.at,
        updated_at=actor.at,
    )
    with sessions.acting(actor)() as uow:
        if uow.operators.get(name) is not None:
            raise OperatorError(f"operator {name!r} already exists")
        uow.operators.add(record, hashed)
        uow.note("operator.add", name, after={"role": role.value, "status": ACTIVE})
        uow.commit()
    return record


def disable_operator(sessions: OperatorSessions, name: str, *, actor: Actor) -> OperatorRecord:
    """Disable an account: it cannot log in and its open sessions end."""
    with sessions.acting(actor)() as uow:
        before = _existing(uow.operators.get(name), name)
        if before.status == DISABLED:
            raise OperatorError(f"operator {name!r} is already disabled")
        uow.operators.update(name, now=actor.at, status=DISABLED, bump_epoch=True)
        uow.note(
            "operator.disable", name, before={"status": before.status}, after={"status": DISABLED}
        )
        after = _existing(uow.operators.get(name), name)
        uow.commit()
    return after


def reset_password(
    sessions: OperatorSessions, name: str, *, password: str, salt: bytes, actor: Actor
) -> OperatorRecord:
    """Set a new password (and enable a disabled account); open sessions end."""
    hashed = hash_password(check_password(password), salt=salt)
    with sessions.acting(actor)() as uow:
        before = _existing(uow.operators.get(name), name)
        uow.operators.update(
            name, now=actor.at, status=ACTIVE, password_hash=hashed, bump_epoch=True
        )
        uow.note(
            "operator.reset-password",
            name,
            before={"status": before.status, "sessionEpoch": before.session_epoch},
            after={"status": ACTIVE, "sessionEpoch": before.session_epoch + 1},
        )
        after = _existing(uow.operators.get(name), name)
        uow.commit()
    return after


def list_operators(sessions: OperatorSessions) -> Sequence[OperatorRecord]:
    """Every account, by name."""
    with sessions(read_only=True) as uow:
        return uow.operators.list()


def find_operator(sessions: OperatorSessions, name: str) -> OperatorRecord | None:
    """The account of that name, if any."""
    with sessions(read_only=True) as uow:
        found = uow.operators.get(name)
    return None if found is None else found[0]


def authenticate(sessions: OperatorSessions, name: str, password: str) -> OperatorRecord | None:
    """The active operator whose password this is, else None (same work either way)."""
    with sessions(read_only=True) as uow:
        found = uow.operators.get(name)
    if found is None:
        password_matches(password, hash_password("", salt=_ABSENT_SALT))
        return None
    record, stored = found
    if not password_matches(password, stored) or record.status != ACTIVE:
        return None
    return record


def _existing(found: tuple[OperatorRecord, str] | None, name: str) -> OperatorRecord:
    if found is None:
        raise OperatorError(f"unknown operator {name!r}: add it with `asap-sync operators add`")
    return found[0]


# -- the activity log ---------------------------------------------------------------------


def list_changes(sessions: OperatorSessions, which: ChangeFilter) -> Sequence[LoggedChange]:
    """Changes, newest first."""
    if which.limit < 1:
        raise OperatorError(f"limit must be 1 or more, not {which.limit}")
    with sessions(read_only=True) as uow:
        return uow.operators.changes(which)
