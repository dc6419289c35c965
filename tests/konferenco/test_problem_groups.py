"""Identical import problems are said once, with advice that fits where the file went in."""

from __future__ import annotations

from konferenco.catalog.csv_reader import Problem, group_problems

VIP = "unknown ticket type 'VIP'; known: general (General)"


def _problems() -> list[Problem]:
    return [Problem(line, "ticket_type", VIP) for line in range(2, 1206)] + [
        Problem(1206, "email", "has an invalid format")
    ]


def test_the_command_line_advice_names_the_map_flag() -> None:
    ticket, email = group_problems(_problems())
    assert str(ticket) == (
        f"1,204 rows: ticket_type: {VIP} (create the ticket type first, or map the column with"
        " --map ticket_type=COLUMN) [lines 2, 3, 4, 5, 6 and 1,199 more]"
    )
    assert (
        str(email)
        == "1 row: email: has an invalid format (fix the address or leave the cell empty) [line 1,206]"
    )


def test_a_caller_without_the_flag_replaces_the_advice_for_the_fields_it_names() -> None:
    ticket, email = group_problems(_problems(), {"ticket_type": "create it under Ticket types first"})
    assert ticket.hint == "create it under Ticket types first" and ticket.count == 1204
    assert email.hint == "fix the address or leave the cell empty"  # not named: the usual advice
    (silent,) = group_problems([Problem(3, "email", "has an invalid format")], {"email": ""})
    assert str(silent) == "1 row: email: has an invalid format [line 3]"
