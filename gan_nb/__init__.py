__version__ = "0.1.0"

# The public names users know from the reference; importing each chapter's module registers its
# models and datasets in the option system.
from .options import TrainOptions, TestOptions, register_model, register_dataset, OptionError
