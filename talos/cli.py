"""``konferenco talos``: the technician's commands, from a venue file to a verified boot stick.

config, validate, bundle, verify, signing-key and os-image are :mod:`talos.config.cli`
(docs/talos-config.md);
flash is :mod:`talos.flash.cli` (docs/flashing.md).
"""

from __future__ import annotations

import click

from talos.config.cli import bundle, config, os_image, signing_key, validate, verify
from talos.flash.cli import flash


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def talos() -> None:
    """Prepare, check and flash Talos Linux for venue appliances.

    \b
    At HQ:   signing-key, config (venue file -> machine config), validate, bundle (signed),
             os-image record (hash a downloaded OS image into images/os.yaml).
    On site: verify (the bundle came from HQ), flash (image -> stick or card, read back).
    """


for command in (config, validate, signing_key, bundle, verify, os_image, flash):
    talos.add_command(command)
