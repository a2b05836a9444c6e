import os

os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "producer.settings")

from demo.run import main

main()
