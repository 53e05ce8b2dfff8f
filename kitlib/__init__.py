"""kitlib: a Kaggle/AIcrowd competition notebook kit (see README.md)."""
__version__ = "0.1.0"
