"""The one tracking layer: every MLflow call of the package goes through here."""
