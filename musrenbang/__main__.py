from musrenbang.cli import main

main()
