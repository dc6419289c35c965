"""Password and PIN hashing, one scheme for staff on the appliance and accounts on the hub.

scrypt (memory-hard, in the standard library: 16 MiB and ~50 ms per try),
so a stolen appliance disk or a leaked hub table does not give away a
6-digit PIN in seconds.  The stored form names its parameters, so they can
be raised later without invalidating existing hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import os

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + f"{salt.hex()}${digest.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = hashlib.scrypt(
        secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(computed.hex(), digest)
