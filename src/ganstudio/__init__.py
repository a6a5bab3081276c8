"""ganstudio: train GANs on your own images, then generate, explore, animate, breed, evaluate and exhibit.

Python entry points (each also a CLI subcommand):
    ganstudio.train(config) -> Path          train a run, returns its folder
    ganstudio.load(run_dir) -> Pipeline      rebuild a trained generator for sampling
"""

from .version import __version__


def train(config, **kwargs):
    """Train a GAN described by a RunConfig (or a dict of one); returns the run folder."""
    from .training import train as _train

    return _train(config, **kwargs)


def load(run_dir, checkpoint="latest", device="cpu"):
    """Rebuild the generator of a run folder as a sampling Pipeline."""
    from .pipeline import load as _load

    return _load(run_dir, checkpoint=checkpoint, device=device)


__all__ = ["__version__", "load", "train"]
