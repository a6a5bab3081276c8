"""Creative tools over ``Latent``s (see ``ganstudio.latents``): each module is a library first,
with a thin CLI in ``ganstudio.commands.creative``.

- ``interpolate``: slerp / lerp between latents, easing curves, keyframe paths
- ``animate``: keyframe walks and seamless noise loops -> MP4 / GIF / PNG frames
- ``directions``: GANSpace-style PCA and SeFa latent directions, previews, names
- ``breed``: crossover / blend children with mutation and lineage
- ``project``: fit a latent to a picture (GAN inversion)
- ``prompt``: text -> class (blend) + named direction edits
- ``curate``: keep the samples the run's discriminator finds most realistic
- ``taste``: learn likes/dislikes, suggest more like them
- ``sound``: the tools on sound runs: one pitch per walk or brood, notes as a WAV, spectrogram strips
"""
