"""Training SAM's prompt encoder and mask decoder (with the stand-in image encoder) on the
generated world, with the SAM paper's recipe."""
