"""What runs on the box and in the cloud: container images, Kubernetes manifests, OS images.

Data more than code (docs/images.md): ``Containerfile`` and ``build.py`` (``make images``), the
manifests under ``k8s/`` (which ``konferenco talos config`` reads as package data), and ``os.yaml``.
"""
