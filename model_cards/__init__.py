"""Cards and Hub publishing: dataset/model cards from manifests and results, versioned releases,
and an MTEB leaderboard submission bundle. See ``model_cards/cli.py`` for the commands."""
