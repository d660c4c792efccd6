__version__ = "0.1.0"

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
# roots' DATAROOT_SCHEMES (facades), create_model's BUILD_HOOKS (speed), the training loop's RUN_HOOKS (the rest).
# Torchrun's hook comes first: the checkpoints' start waits on its process group; the stops' NaN check before the
# loggers (nothing NaN is logged); validation after the resume.
# The panel and the dashboard register nothing: they are imported when used, so a script pays nothing for them.
from .extras import facades, speed, distributed, checkpoints, guard, metrics, tensorboard_logger  # noqa: F401
