"""Test-suite set-up."""

# pytester restores sys.modules after each test that uses it; a module that
# mockcloud imported lazily during such a test would be dropped and imported
# anew, and cryptography's Rust classes do not survive that. Import them once.
import jwt.algorithms  # noqa: F401
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: F401
