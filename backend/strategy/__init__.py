"""The executives' strategic view: per action type, what the agent does and is worth, what a
change of its autonomy threshold would do, and each deal's calibrated win probability."""
