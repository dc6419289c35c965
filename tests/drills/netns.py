"""Network namespaces joined to the host by veth, with a lossy, slow uplink to one port.

A box in a namespace reaches the hub through a real kernel network path, so
loss and a narrow, queueing link are TCP's problem, as on a venue's
overloaded Wi-Fi: lost segments are retransmitted, WebSocket pings time out,
connections stall.  This kernel has no ``netem`` (``CONFIG_NET_SCH_NETEM`` is
not set), so the link is made of what it has: **loss** by nftables
(``numgen random`` drops a share of the packets to and from the hub's port,
both ways) and **a slow line** by an HTB class for that port, whose queue
adds the delay.  A cut drops everything.  Only the hub's port is shaped, so
the test's own requests to the box are not: the door is at the box, the bad
link is the uplink.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
from dataclasses import dataclass

_NUMBERS = itertools.count(1)


def run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()}")


def available() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        run("ip", "netns", "list")
        run("tc", "-V")
        run("nft", "--version")
    except (OSError, RuntimeError) as exc:
        return f"iproute2 or nftables is not usable: {exc}"
    return None


@dataclass
class Namespace:
    """``kf{pid}n{k}``: a namespace at ``10.(77+k).{pid%250}.2/30``, the host side at ``….1``."""

    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str
    port: int  # the hub's port: the traffic that is shaped
    shaped: bool = False
    dropped_lossy: int = 0  # packets dropped under earlier lossy shapes
    dropped_cut: int = 0  # and while cut
    rate_kbit: int = 0
    loss_pct: float = 0.0  # the share of packets dropped now

    @classmethod
    def create(cls, port: int) -> Namespace:
        k = next(_NUMBERS)
        tag = f"{os.getpid() % 100000}n{k}"
        net = f"10.{77 + k % 150}.{os.getpid() % 250}"
        ns = cls(f"kf{tag}", f"kfh{tag}", f"kfb{tag}", f"{net}.1", f"{net}.2", port)
        run("ip", "netns", "add", ns.name)
        try:
            run("ip", "link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if)
            run("ip", "link", "set", ns.ns_if, "netns", ns.name)
            run("ip", "addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
            run("ip", "link", "set", ns.host_if, "up")
            ns.inside("ip", "addr", "add", f"{ns.ns_ip}/30", "dev", ns.ns_if)
            ns.inside("ip", "link", "set", ns.ns_if, "up")
            ns.inside("ip", "link", "set", "lo", "up")
        except BaseException:
            ns.close()
            raise
        return ns

    def inside(self, *cmd: str) -> None:
        run("ip", "netns", "exec", self.name, *cmd)

    @property
    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def shape(self, *, rate_kbit: int, loss_pct: float = 0.0) -> None:
        """The uplink: ``rate_kbit`` for the hub's traffic, ``loss_pct`` of its packets dropped each way."""
        per_mille = max(0, min(1000, round(loss_pct * 10)))
        share = "" if per_mille >= 1000 else f"numgen random mod 1000 < {per_mille} "
        rules = f"""
            table inet kf {{
              chain out {{ type filter hook output priority 0; policy accept;
                tcp dport {self.port} {share}counter drop; }}
              chain in {{ type filter hook input priority 0; policy accept;
                tcp sport {self.port} {share}counter drop; }}
            }}"""
        if self.shaped:
            self._account()
            self.inside("nft", "delete", "table", "inet", "kf")
        done = subprocess.run(
            ["ip", "netns", "exec", self.name, "nft", "-f", "-"], input=rules, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"nft failed: {done.stderr.strip()}")
        rate = ["rate", f"{rate_kbit}kbit", "ceil", f"{rate_kbit}kbit"]
        verb = "change" if self.shaped else "add"
        sides = ((self.inside, self.ns_if, "dport"), (lambda *c: run(*c), self.host_if, "sport"))
        for do, dev, direction in sides:
            if not self.shaped:
                do("tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10")
                do(
                    "tc",
                    "class",
                    "add",
                    "dev",
                    dev,
                    "parent",
                    "1:",
                    "classid",
                    "1:10",
                    "htb",
                    "rate",
                    "1gbit",
                )
            do("tc", "class", verb, "dev", dev, "parent", "1:", "classid", "1:20", "htb", *rate)
            if not self.shaped:
                do(
                    "tc", "filter", "add", "dev", dev, "protocol", "ip", "parent", "1:0", "prio", "1",
                    "u32", "match", "ip", direction, str(self.port), "0xffff", "flowid", "1:20",
                )  # fmt: skip
        self.shaped = True
        self.loss_pct, self.rate_kbit = loss_pct, rate_kbit

    def _counted(self) -> int:
        listing = subprocess.run(
            [*self.exec_prefix, "nft", "list", "table", "inet", "kf"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))

    def _account(self) -> None:
        counted = self._counted()
        if self.loss_pct >= 100:
            self.dropped_cut += counted
        else:
            self.dropped_lossy += counted

    def packets_dropped(self) -> tuple[int, int]:
        """Packets to or from the hub's port dropped so far: (while lossy, while cut)."""
        if self.shaped:
            self._account()
            self.shape(rate_kbit=self.rate_kbit, loss_pct=self.loss_pct)  # counters start again
        return self.dropped_lossy, self.dropped_cut

    def cut(self) -> None:
        self.shape(rate_kbit=64, loss_pct=100.0)

    def close(self) -> None:
        """Remove the namespace (its veth end goes with it, and so does the host's)."""
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "delete", self.host_if], capture_output=True, check=False)
