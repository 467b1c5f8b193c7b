"""GraphQL surface of feedback prompts: the `feedbackPrompts` query, `answerFeedbackPrompt`."""
