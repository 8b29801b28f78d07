"""Wallet secret keys at rest: AES-256-GCM under a key derived with argon2id.

Each wallet has its own salt; the derived key is kept in memory after first
use, because argon2 is deliberately slow and a send must not pay for it.
Callers on the event loop run seal and a first open in a worker thread.
The master password itself is hashed with argon2id (PasswordHasher) once.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from solders.keypair import Keypair


@dataclass(frozen=True)
class KdfParams:
    # OWASP's argon2id minimum (19 MiB, 2 passes): about 20 ms here per wallet.
    time_cost: int = 2
    memory_cost: int = 19456
    parallelism: int = 1

    def to_json(self) -> str:
        return json.dumps({"alg": "argon2id", **asdict(self)})

    @classmethod
    def from_json(cls, text: str) -> KdfParams:
        raw = json.loads(text)
        return cls(raw["time_cost"], raw["memory_cost"], raw["parallelism"])


@dataclass(frozen=True)
class SealedKey:
    ciphertext: bytes
    nonce: bytes
    salt: bytes
    kdf: str


class KeyStore:
    def __init__(self, password: str, params: KdfParams | None = None) -> None:
        self._password = password.encode()
        self._params = params or KdfParams()
        self._derived: dict[bytes, bytes] = {}

    def seal(self, keypair: Keypair, wallet_id: str) -> SealedKey:
        return self.seal_secret(bytes(keypair), wallet_id)

    def open(self, sealed: SealedKey, wallet_id: str) -> Keypair:
        return Keypair.from_bytes(self.open_secret(sealed, wallet_id))

    def seal_secret(self, secret: bytes, wallet_id: str) -> SealedKey:
        """Any family's secret key (Ed25519 keypair bytes, a secp256k1 key), sealed alike."""
        salt = os.urandom(16)
        nonce = os.urandom(12)
        key = self._key(salt, self._params)
        ciphertext = AESGCM(key).encrypt(nonce, secret, wallet_id.encode())
        return SealedKey(ciphertext, nonce, salt, self._params.to_json())

    def open_secret(self, sealed: SealedKey, wallet_id: str) -> bytes:
        key = self._key(sealed.salt, KdfParams.from_json(sealed.kdf))
        try:
            return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, wallet_id.encode())
        except InvalidTag:
            raise RuntimeError(f"the key of wallet {wallet_id} cannot be decrypted") from None

    def is_unlocked(self, sealed: SealedKey) -> bool:
        """True once the key of ``sealed`` is derived: opening it costs no argon2."""
        return sealed.salt in self._derived

    def _key(self, salt: bytes, params: KdfParams) -> bytes:
        cached = self._derived.get(salt)
        if cached is None:
            cached = hash_secret_raw(
                self._password,
                salt,
                time_cost=params.time_cost,
                memory_cost=params.memory_cost,
                parallelism=params.parallelism,
                hash_len=32,
                type=Type.ID,
            )
            self._derived[salt] = cached
        return cached


def hash_master_password(password: str, hasher: PasswordHasher | None = None) -> bytes:
    return (hasher or PasswordHasher()).hash(password).encode()


def check_master_password(stored_hash: bytes, password: str) -> bool:
    # The parameters are read from the stored hash, whatever hasher made it.
    try:
        return PasswordHasher().verify(stored_hash.decode(), password)
    except (VerificationError, InvalidHashError):
        return False
