from recaudo.cli import main

main()
