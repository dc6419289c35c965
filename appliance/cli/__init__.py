"""``konferenco appliance`` and ``konferenco demo``: the appliance's command line (DESIGN.md §3).

The root group (``konferenco.cli``) loads these two groups from the
``konferenco.commands`` entry points ``appliance.cli:appliance`` and
``appliance.cli:demo``.  Each command is a thin skin over a library
function (argument parsing and printing only), and exits non-zero with a
one-line reason when it cannot do its job.  The modules, by what they do:

* ``serve``: ``init``, ``serve``, ``status``, ``peer-token``;
* ``enrol``: ``enroll`` with a hub;
* ``catalog``: ``import``, ``badges``;
* ``staff``: ``staff add``, ``issue-token``;
* ``devices``: ``devices`` (list), ``devices add|remove|auto-print``;
* ``schedule``: ``schedule import|export|findings``;
* ``kiosk``: ``kiosk pair-code`` (pairing a touch kiosk);
* ``signage``: ``signage broker-config`` (Mosquitto for the room signs);
* ``backup``: ``backup run|status`` (Litestream) and ``restore`` (a new box from a backup);
* ``provision``: a venue box's start-up step (restore from its backup, else enrol, once);
* ``demo``: ``demo seed``, ``demo credentials``;
* ``common``: the ``--data`` option and loading the appliance in it.
"""

from __future__ import annotations

import click

from appliance.cli.backup import backup, restore_command
from appliance.cli.catalog import badges, import_command
from appliance.cli.common import DATA_OPTION, provisioned
from appliance.cli.demo import demo
from appliance.cli.devices import devices
from appliance.cli.enrol import enroll
from appliance.cli.kiosk import kiosk
from appliance.cli.provision import provision
from appliance.cli.schedule import schedule
from appliance.cli.serve import init, peer_token_command, serve, status
from appliance.cli.signage import signage
from appliance.cli.staff import issue_token, staff

__all__ = ["DATA_OPTION", "appliance", "demo", "provisioned"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def appliance() -> None:
    """Run and manage a venue appliance (check-in, printing, schedule, sync)."""


for command in (
    init,
    serve,
    enroll,
    peer_token_command,
    status,
    import_command,
    badges,
    issue_token,
    devices,
    staff,
    schedule,
    kiosk,
    signage,
    backup,
    restore_command,
    provision,
):
    appliance.add_command(command)
