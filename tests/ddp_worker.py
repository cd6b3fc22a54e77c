"""Run by test_gan under ``torch.distributed.run --nproc_per_node 2``: a gloo DDP training on
a toy store. Each rank saves the weights of its generator and discriminator replicas as they
are after training (at the last barrier, before the best checkpoint is reloaded)."""
import importlib
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from test_gan import ToyStore, small_config

gan_train = importlib.import_module("xai_gan.gan.train")  # the module, not gan.train()

replicas, snapshot = [], {}


class RecordingDDP(gan_train.DistributedDataParallel):
    def __init__(self, module, *args, **kwargs):
        super().__init__(module, *args, **kwargs)
        replicas.append(module)


def recording_barrier(*args, _barrier=dist.barrier, **kwargs):
    for i, module in enumerate(replicas):
        snapshot[i] = {k: v.clone() for k, v in module.state_dict().items()}
    return _barrier(*args, **kwargs)


gan_train.DistributedDataParallel = RecordingDDP
dist.barrier = recording_barrier
out = Path(sys.argv[1])
gan_train.train(ToyStore(32), ToyStore(8, seed=1), small_config(out, epochs=2, distributed=True))
torch.save(snapshot, out / f"rank{dist.get_rank()}.pt")
dist.destroy_process_group()
