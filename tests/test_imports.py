"""What importing the package pulls in."""


def test_torchvision_is_not_imported():
    import subprocess
    import sys

    code = (
        "import sys, ganstudio, ganstudio.cli, ganstudio.training, ganstudio.pipeline, ganstudio.media, "
        "ganstudio.data; assert 'torchvision' not in sys.modules, 'torchvision imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
