# The two commands of the README. Both set up what is missing first.
.PHONY: setup demo test bench

setup:
	bash scripts/setup.sh

demo: setup
	stage serve --cues config/demo-cues.toml

test: setup
	bash scripts/test.sh

bench: setup
	python3 bench/render.py
	python3 bench/chase.py
	python3 bench/ltc.py
	python3 bench/mmc.py
	python3 bench/clicks.py
	python3 bench/takes.py
	python3 bench/take_ack.py
	python3 bench/fanout.py
	python3 bench/screens.py
	python3 bench/picture_import.py
	python3 bench/movie.py
	python3 bench/picture.py
