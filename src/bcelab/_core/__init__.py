"""bcelab's private core: the layer below everything else.

Nothing here imports from the rest of bcelab (only :mod:`bcelab.errors`), and every
other package may import from here:

* :mod:`~bcelab._core.formulas`: the formulas, written once against the Array API;
* :mod:`~bcelab._core.conventions`: other libraries' formulas, reproduced on purpose;
* :mod:`~bcelab._core.arrays`: namespaces and the dtype policy;
* :mod:`~bcelab._core.validate`: shape, dtype and value checks of arrays;
* :mod:`~bcelab._core.options`: every keyword option's vocabulary and its one check;
* :mod:`~bcelab._core.prepare`: the prepare and finish steps of every loss;
* :mod:`~bcelab._core.reducing`: the mechanics of reduction;
* :mod:`~bcelab._core.atomic`: atomic file output, and output folders swapped in whole;
* :mod:`~bcelab._core.host_copy`: torch tensors to host memory, chunked through pinned
  buffers from a GPU;
* :mod:`~bcelab._core.tables`: labels of the positive class and delimiters of text tables;
* :mod:`~bcelab._core.config`: the ``BCELAB_*`` environment variables.
"""
