"""kubeiam: what each Kubernetes workload can do in the cloud, and where that is more than it needs."""

__version__ = "0.1.0"
