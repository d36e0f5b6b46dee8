"""Models-from-code entry for `mlflow.pyfunc.log_model` (avoids pickling the model object)."""
import mlflow.models

from zero2hero.tracking.pyfunc import Z2HPythonModel

mlflow.models.set_model(Z2HPythonModel())
