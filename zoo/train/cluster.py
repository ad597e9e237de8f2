"""Who this process is in a multi-worker run: TF_CONFIG, read and checked.

TensorFlow reads TF_CONFIG itself (`TFConfigClusterResolver`). The zoo reads it
first, without TensorFlow, so that a malformed one is one clear line rather than
a traceback or a worker waiting forever for a peer that cannot exist, and so it
knows which process is the chief: the one that writes the package.

Only the roles that synchronous data-parallel training uses are accepted: one
optional `chief` and any number of `worker`s. Parameter servers (`ps`) and
`evaluator`s belong to other strategies and are refused.

TensorFlow's worker server does not bind to the address this worker's entry names:
its gRPC server listens on `0.0.0.0:PORT` (gRPC makes that every IPv4 and IPv6
interface), whatever host TF_CONFIG gives (`GrpcServer::Init` in
tensorflow/core/distributed_runtime/rpc/grpc_server_lib.cc; TF 2.21 has no option or
environment variable for the bind address, and `tf.distribute.Server` is the same
server). That server runs whatever graph or function a peer that reaches it sends.
So the zoo cannot keep a loopback cluster on loopback, and it does not pretend to:
joining a cluster needs `--listen-all-interfaces`, the user's word that the port is
on a trusted network or behind a firewall.
"""

import json
import re
from dataclasses import dataclass

from zoo.errors import ZooError

TF_CONFIG = "TF_CONFIG"
ROLES = ("chief", "worker")
_ADDRESS = re.compile(r"(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")


@dataclass(frozen=True)
class Cluster:
    """This process's role and index, and every task's address, chief first."""
    role: str
    index: int
    addresses: tuple[str, ...]
    has_chief: bool

    @property
    def workers(self) -> int:
        return len(self.addresses)

    @property
    def is_chief(self) -> bool:
        """The chief task, or worker 0 when there is none (TensorFlow's own rule)."""
        return self.role == "chief" or (not self.has_chief and self.index == 0)

    @property
    def rank(self) -> int:
        """This task's place among all of them, chief first."""
        return self.index + (self.role == "worker" and self.has_chief)

    def describe(self) -> str:
        return f"{self.role} {self.index} ({self.rank + 1} of {self.workers})"

    @property
    def address(self) -> str:
        """This task's own entry, `host:port`."""
        return self.addresses[self.rank]


def check_listening(cluster: Cluster | None, listen_all_interfaces: bool) -> None:
    """Refuse to join a cluster unless the user accepted that TensorFlow's worker server
    listens on every interface, not on the host this worker's entry names."""
    if cluster is None or listen_all_interfaces:
        return
    host, _, port = cluster.address.rpartition(":")
    raise _fail(f"TensorFlow's worker server listens on every network interface (port "
                f"{port} on 0.0.0.0 and ::), not only on {host} as this worker's entry "
                "names, and it runs what any peer that reaches it sends; on a trusted "
                "network or behind a firewall, pass --listen-all-interfaces to accept that")


def _fail(why: str) -> ZooError:
    return ZooError(f"{TF_CONFIG}: {why}")


def _addresses(cluster: object) -> dict[str, list[str]]:
    if not isinstance(cluster, dict) or not cluster:
        raise _fail('"cluster" must be an object of task lists, e.g. '
                    '{"worker": ["host1:12345", "host2:12345"]}')
    other = sorted(set(cluster) - set(ROLES))
    if other:
        raise _fail(f"role(s) {', '.join(map(repr, other))} are not supported: synchronous "
                    f"data-parallel training uses only {' and '.join(ROLES)}")
    jobs: dict[str, list[str]] = {}
    for role, tasks in cluster.items():
        if not isinstance(tasks, list) or not tasks \
                or not all(isinstance(task, str) for task in tasks):
            raise _fail(f'"{role}" must be a non-empty list of "host:port" strings')
        for task in tasks:
            match = _ADDRESS.fullmatch(task)
            if not match or not 0 < int(match["port"]) < 65536:
                raise _fail(f'{task!r} is not a "host:port" address')
        jobs[role] = tasks
    if len(jobs.get("chief", [])) > 1:
        raise _fail("there can be only one chief")
    every = [task for role in ROLES for task in jobs.get(role, [])]
    if len(set(every)) != len(every):
        raise _fail("two tasks share an address")
    return jobs


def read_cluster(text: str | None) -> Cluster | None:
    """TF_CONFIG's cluster and task, checked; None if it is unset or empty (one worker)."""
    if not text or not text.strip():
        return None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _fail(f"not JSON ({exc})") from None
    if not isinstance(config, dict):
        raise _fail('must be a JSON object with "cluster" and "task"')
    jobs = _addresses(config.get("cluster"))
    task = config.get("task")
    if not isinstance(task, dict):
        raise _fail('"task" must be an object like {"type": "worker", "index": 0}')
    role, index = task.get("type"), task.get("index")
    if not isinstance(role, str) or role not in jobs:
        raise _fail(f'"task"."type" must be one of the cluster\'s roles '
                    f'({", ".join(jobs)}), not {role!r}')
    if not isinstance(index, int) or isinstance(index, bool) \
            or not 0 <= index < len(jobs[role]):
        raise _fail(f'"task"."index" must be an integer from 0 to {len(jobs[role]) - 1} '
                    f'(the {role} list), not {index!r}')
    addresses = tuple(task for role_ in ROLES for task in jobs.get(role_, []))
    return Cluster(role, index, addresses, "chief" in jobs)
