"""Training: hyperparameters in, a Keras model out (Dense stacks and the other layer families), trained on the
study's data with validation after every epoch. Nothing here knows Optuna; TensorFlow is imported only by the
functions that build or train."""
