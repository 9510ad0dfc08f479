from tlscap.entry import run

run()
