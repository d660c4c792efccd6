"""Run by tests/test_distributed.py under torchrun: train tiny pix2pix (extra options from the command line), write this
rank's record as JSON: weight hash, learning rates, validation state, stop-check collectives, random states."""
import hashlib
import json
import os
import sys
from pathlib import Path

import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_engine import tiny_train_args  # noqa: E402
import gan_nb.extras.checkpoints as checkpoints  # noqa: E402
from gan_nb.networks import unwrap_network  # noqa: E402
from gan_nb.options import TrainOptions  # noqa: E402
from gan_nb.train import train  # noqa: E402

root, save, out, *extra = sys.argv[1:]
record = dict(all_reduce_at_step=[], restored_rng=None)


def rng_hash(st): return hashlib.sha256(repr(st['python']).encode() + st['torch'].numpy().tobytes() + st['numpy'][1].numpy().tobytes()).hexdigest()


reduce, restore = dist.all_reduce, checkpoints.set_rng_state
all_reduces = 0
def counting_all_reduce(*args, **kwargs):
    global all_reduces
    all_reduces += 1
    return reduce(*args, **kwargs)
def recording_restore(st):  # the first state a resume restores
    record['restored_rng'] = record['restored_rng'] or rng_hash(st)
    restore(st)
dist.all_reduce, checkpoints.set_rng_state = counting_all_reduce, recording_restore


class Record:
    def on_train_begin(self, state): record['wrapped'] = type(state.model.netG).__name__
    def on_iteration(self, state):
        if state.epoch == state.opt.epoch_count: record['all_reduce_at_step'].append(all_reduces)  # the run's first epoch
    def before_checkpoint(self, state): record['saved_rng'] = rng_hash(checkpoints.rng_state())
    def on_train_end(self, state):
        h, m = hashlib.sha256(), state.model
        for name in m.model_names:
            for k, v in unwrap_network(getattr(m, 'net' + name)).state_dict().items():
                h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
        record.update(hash=h.hexdigest(), world_size=state.world_size, total_iters=state.total_iters, metric=m.metric, best=state.best,
                      lr=[g['lr'] for o in m.optimizers for g in o.param_groups], schedulers=[repr(getattr(s, 'best', None)) for s in m.schedulers])
        Path(out, f'rank{state.rank}.json').write_text(json.dumps(record))


train(TrainOptions().gather(tiny_train_args(root, save) + extra), callbacks=[Record()], progress=False)
