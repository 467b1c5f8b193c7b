"""Pure numerical library for calibration, policy, ROI, coaching and anomalies. No I/O."""
