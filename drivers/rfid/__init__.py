"""NFC badge readers over PC/SC (pcscd + pyscard): a tapped badge becomes a :class:`~drivers.base.ScanEvent`.

Any PC/SC contactless reader works (ACS ACR122U, ACR1252U, Identiv uTrust…): the
reader itself answers the ``FF CA 00 00 00`` GET DATA pseudo-APDU with the
card's UID, so no card-specific code is needed.  pyscard is an optional extra
(``konferenco[pcsc]``); without it the driver reports ``error`` instead of
failing at import.
"""

from typing import Any

from drivers.base import Driver, ScanSink
from drivers.rfid.reader import MANIFEST, NfcReader

__all__ = ["MANIFEST", "NfcReader", "create"]


def create(settings: dict[str, Any], sink: ScanSink | None) -> Driver:
    """The family's entry point (``drivers.registry``): a reader needs a sink; ``name`` is not used."""
    if sink is None:
        raise ValueError("an NFC reader needs a sink for its scans")
    values = dict(settings)
    values.pop("name", None)
    return NfcReader.from_settings(values, sink)
