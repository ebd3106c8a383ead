"""Stage 2, features: point-in-time event streams of a payment history, the feature families
declared once for training, batch scoring and the service, and the service's snapshot format."""
