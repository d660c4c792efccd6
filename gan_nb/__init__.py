__version__ = "0.1.0"

import warnings
# `python -m gan_nb.train` (and torchrun's -m) runs a module this package has already imported; its `__main__` block
# hands over to the package's copy, so runpy's warning about the second copy says nothing a user can act on.
warnings.filterwarnings('ignore', r"'gan_nb\.\w+' found in sys.modules after import of package 'gan_nb'", RuntimeWarning)

# The public names users know from the reference. Importing each chapter's module also registers its
# models and datasets in the option system, so `TrainOptions().parse(...)` knows them all.
from .options import TrainOptions, TestOptions, register_model, register_dataset, OptionError
from .networks import define_G, define_D
from .losses import GANLoss
from .data import create_dataset
from .base_model import BaseModel, create_model, get_scheduler, CheckpointError
from .pix2pix import Pix2PixModel
from .cycle_gan import CycleGANModel
from .test_models import TestModel, ColorizationModel
from .template import TemplateModel

# The extras (gan_nb/extras/) attach to the core here, each at its one named place as it is imported: the data
# roots' DATAROOT_SCHEMES (facades), the option system's ARGS_HOOKS (old_flags: the reference's older flag
# names), create_model's BUILD_HOOKS (speed), the training loop's RUN_HOOKS (the rest).
# Torchrun's hook comes first: the checkpoints' start waits on its process group; validation after the resume.
# The panel and the dashboard register nothing: they are imported when used, so a script pays nothing for them.
from .extras import old_flags, facades, tiff, speed, loading, distributed, checkpoints, guard, metrics, tensorboard_logger  # noqa: F401
