"""NFC badge readers over PC/SC (pcscd + pyscard): a tapped badge becomes a :class:`~drivers.base.ScanEvent`.

Any PC/SC contactless reader works (ACS ACR122U, ACR1252U, Identiv uTrust…): the
reader itself answers the ``FF CA 00 00 00`` GET DATA pseudo-APDU with the
card's UID, so no card-specific code is needed.  pyscard is an optional extra
(``konferenco[pcsc]``); without it the driver reports ``error`` instead of
failing at import.
"""

from drivers.rfid.reader import MANIFEST, NfcReader

__all__ = ["MANIFEST", "NfcReader"]
