"""Data-parallel training over `torchrun` processes: this process's rank, device and the
collectives the loop uses; one process without `torchrun`."""

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from probing.utils.devices import resolve_device
from probing.utils.errors import ProbingError


@dataclass
class Distributed:
    """This process's place among the `torchrun` processes (one process: rank 0 of 1)."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @classmethod
    def start(cls, device_name: str) -> "Distributed":
        device = resolve_device(device_name)
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls(device)
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(device, dist.get_rank(), world_size)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def stop(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    def all_reduce(self, tensor: torch.Tensor, op: dist.ReduceOp = dist.ReduceOp.SUM) -> None:
        if self.world_size > 1:
            dist.all_reduce(tensor, op)

    def any(self, flag: bool) -> bool:
        """True on every process when it is true on one."""
        tensor = torch.tensor([float(flag)], device=self.device)
        self.all_reduce(tensor, dist.ReduceOp.MAX)
        return bool(tensor.item())

    def gather(self, value: object) -> list:
        if self.world_size == 1:
            return [value]
        values = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def main_first(self, work: Callable[[], None]) -> None:
        """Run `work` on the main process, then on the others, which find what it built.
        A failure on the main process stops the others instead of leaving them waiting."""
        if self.world_size == 1:
            work()
            return
        failed = torch.zeros(1, device=self.device)
        if self.is_main:
            try:
                work()
            except BaseException:
                failed.fill_(1)
                dist.broadcast(failed, 0)
                raise
            dist.broadcast(failed, 0)
            return
        dist.broadcast(failed, 0)
        if failed.item():
            raise ProbingError("the main process (rank 0) failed to prepare the data; its "
                               "message says why")
        work()
