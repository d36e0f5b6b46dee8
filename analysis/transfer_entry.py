"""Models-from-code entry for the transfer predictor's `mlflow.pyfunc.log_model` (nothing is pickled)."""
import mlflow.models

from analysis.transfer_model import TransferPythonModel

mlflow.models.set_model(TransferPythonModel())
