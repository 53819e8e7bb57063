"""Hidden states of a prompt inside a local model, per layer, for probes and probe features.

llama.cpp's embedding mode gives only the last layer, and a server in that mode cannot also
generate, so :mod:`.transformer` runs the model's forward pass itself, in numpy, on the weights
of the same GGUF file (:mod:`.weights`, dequantized by the ``gguf`` package: the ``probes``
extra), with the token ids the model's own llama.cpp tokenizer gives. It returns, at every
layer, the activation at the last prompt token and the mean over the prompt;
:mod:`.cache` keeps them on disk per model file and prompt.
"""

from octoroute.features.hidden.cache import StateCache, state_key
from octoroute.features.hidden.transformer import HiddenStates, forward
from octoroute.features.hidden.weights import ModelWeights, load_weights

__all__ = ["HiddenStates", "ModelWeights", "StateCache", "forward", "load_weights", "state_key"]
