-- Rasa keeps its tracker store in a database of its own next to the application's.
CREATE DATABASE rasa OWNER parley;
