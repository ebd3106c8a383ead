"""Scale-out on Dask: the single-machine feature, training and scoring steps run on customer
partitions of a cluster; nothing is defined twice."""
