"""Where source-side brokers run: the platforms that start and stop the VM fleet's brokers (local, ec2, manual)."""
