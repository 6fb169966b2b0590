"""The user pool's shape, defined once for the auth-broker stack and the local platform.

Groups: ADMIN (operators: kill switch, manual runs for any user) and TRADER (everyone else).
Custom attribute ``custom:state`` holds the trader's Indian state (for stamp duty on contract
notes); ``phone_number`` is validated as an Indian mobile number (+91 and 10 digits starting 6-9).
"""

from __future__ import annotations

import re

GROUPS = ("ADMIN", "TRADER")
CUSTOM_ATTRIBUTES = ("state",)
INDIAN_MOBILE = re.compile(r"^\+91[6-9]\d{9}$")
PASSWORD_POLICY = {"MinimumLength": 12, "RequireUppercase": True, "RequireLowercase": True,
                   "RequireNumbers": True, "RequireSymbols": True}


def normalise_indian_phone(value: str) -> str:
    """``98765 43210`` / ``+91-9876543210`` / ``09876543210`` -> ``+919876543210``.

    Raises:
        ValueError: not an Indian mobile number (10 digits starting 6-9, optional +91 or 0).
    """
    digits = re.sub(r"[\s\-()]", "", value)
    if digits.startswith("+91"):
        digits = digits[3:]
    elif digits.startswith("91") and len(digits) == 12:
        digits = digits[2:]
    elif digits.startswith("0") and len(digits) == 11:
        digits = digits[1:]
    candidate = "+91" + digits
    if not INDIAN_MOBILE.match(candidate):
        raise ValueError("phone_number: an Indian mobile number has 10 digits starting with 6, 7, 8 or 9")
    return candidate
