"""zero2hero: cross-lingual transfer experiments tracked with MLflow."""
__version__ = "0.1.0"
