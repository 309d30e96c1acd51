"""The test images: reproducible, named under the local registry only, each described in tests/node/README.md."""

from __future__ import annotations

from pathlib import Path

from tests.node import images, oci

README = Path(__file__).with_name("README.md")


def test_every_image_is_local_and_described_in_the_readme():
    text = README.read_text()
    for image in images.IMAGES.values():
        # a reserved test domain (RFC 2606): nothing is pulled from it, no image carries an official name
        assert image.name.startswith(images.REGISTRY + "/") and images.REGISTRY.endswith(".test")
        assert images.readme_line(image) in text, f"tests/node/README.md lacks:\n{images.readme_line(image)}"


def test_the_same_packages_give_the_same_image(tmp_path):
    """Built twice from the same .debs, the busybox and MariaDB images have the same digests (layer and manifest)."""
    for name in (images.local_name(images.BUSYBOX_IMAGE), images.local_name(images.MYSQL_IMAGE)):
        image = images.IMAGES[name]
        first, second = images._layer(image).tar(), images._layer(image).tar()
        assert first == second
        a = oci.archive(image.name, [first], image.config, tmp_path / "a.tar")
        b = oci.archive(image.name, [second], image.config, tmp_path / "b.tar")
        assert a == b and (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
