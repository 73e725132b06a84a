"""Encrypt a value the way `pulumi config set --secret` does with the passphrase provider.

The example stacks under stacks/ are encrypted with the documented passphrase
`gpuforge-examples` (export PULUMI_CONFIG_PASSPHRASE=gpuforge-examples to use them as they
are). For your own stacks, run `pulumi config set --secret gpuforge:hfToken hf_...` instead.

    python3 scripts/example_secret.py SALT_LINE_OR_NEW VALUE

Format (pulumi/pulumi pkg/secrets/passphrase): key = PBKDF2-SHA256(passphrase, salt, 1e6, 32);
values are "v1:" + base64(12-byte nonce) + ":" + base64(AES-256-GCM ciphertext + tag); the stack's
`encryptionsalt` is "v1:" + base64(8-byte salt) + ":" + the encryption of "pulumi".
"""

from __future__ import annotations

import base64
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

PASSPHRASE = os.environ.get("PULUMI_CONFIG_PASSPHRASE", "gpuforge-examples")


def key(salt: bytes) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=1_000_000).derive(PASSPHRASE.encode())


def encrypt(k: bytes, plaintext: str) -> str:
    nonce = os.urandom(12)
    ct = AESGCM(k).encrypt(nonce, plaintext.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(ct).decode()}"


def main() -> None:
    salt_line, value = sys.argv[1], sys.argv[2]
    if salt_line == "new":
        salt = os.urandom(8)
        k = key(salt)
        print(f"encryptionsalt: v1:{base64.b64encode(salt).decode()}:{encrypt(k, 'pulumi')}")
    else:
        salt = base64.b64decode(salt_line.split(":")[1])
        k = key(salt)
    print(encrypt(k, value))


if __name__ == "__main__":
    main()
