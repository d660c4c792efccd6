"""Run by tests/test_distributed.py under torchrun: train tiny pix2pix, write this rank's weight hash."""
import hashlib
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_engine import tiny_opt  # noqa: E402
from gan_nb.networks import unwrap_network  # noqa: E402
from gan_nb.train import train  # noqa: E402

root, checkpoints, out = sys.argv[1:4]


class WriteHash:
    def on_train_begin(self, state): self.wrapped = type(state.model.netG).__name__
    def on_train_end(self, state):
        h = hashlib.sha256()
        for name in state.model.model_names:
            for k, v in unwrap_network(getattr(state.model, 'net' + name)).state_dict().items():
                h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
        Path(out, f'rank{state.rank}.txt').write_text(f'{h.hexdigest()} {state.world_size} {state.total_iters} {self.wrapped}')


train(tiny_opt(root, checkpoints, epochs=(1, 1)), callbacks=[WriteHash()], progress=False)
